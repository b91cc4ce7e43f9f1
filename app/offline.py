"""Answer a CDS Hooks request in this process, without a server or any network.

`opioid-cds evaluate`, the example cards of docs/rules.md and `bench/cards_per_call.py` use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from app.errors import operation_outcome
from app.evaluation import Evaluator, load_evaluator
from app.pipeline import evaluate_hook_request, service_for
from app.services import SERVICES
from app.settings import Settings
from cds_hooks.errors import CdsHooksError
from rules.language import preferred_language

__all__ = ["OfflineResult", "evaluate_offline"]


@dataclass(frozen=True)
class OfflineResult:
    status: int
    body: dict[str, Any]
    duration_ms: float | None
    service_id: str
    missing_data: tuple[str, ...] = ()


async def evaluate_offline(
    payload: Any,
    service_id: str,
    language: str | None = None,
    today: date | None = None,
    evaluator: Evaluator | None = None,
) -> OfflineResult:
    """Answer a request as the service would, in this process and without any network.

    The rule engine is loaded as the service loads it (`load_evaluator`), the pipeline is the
    one the route runs (`app.pipeline`); no database, HTTP client or server is started, and
    the caller's `fhirServer` is never contacted, so data that is not in `prefetch` is missing,
    exactly as when the FHIR server cannot be reached.
    """
    settings = Settings(environment="development", trusted_clients=None)
    try:
        service = service_for(service_id, SERVICES)
        outcome = await evaluate_hook_request(
            payload,
            service=service,
            evaluator=evaluator or load_evaluator(settings),
            fhir_client_for=lambda _request: None,
            deadline_seconds=settings.prefetch_deadline_seconds,
            language=preferred_language(language, default=settings.default_language),
            today=today or settings.clinical_today(),
        )
    except CdsHooksError as exc:
        return OfflineResult(
            status=exc.status_code,
            body=operation_outcome(exc.issue_code, exc.message, exc.location),
            duration_ms=None,
            service_id=service_id,
        )
    return OfflineResult(
        200,
        outcome.body,
        outcome.duration_ms,
        service_id,
        missing_data=tuple(sorted(outcome.resolved.missing)),
    )
