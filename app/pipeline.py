"""One hook request, end to end, without HTTP: parse, check, resolve prefetch, evaluate.

The service route and the offline `opioid-cds evaluate` command both run this, so the CLI
prints exactly the cards the HTTP API returns.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
from pydantic import ValidationError

from app.evaluation import Evaluation, EvaluationInput, Evaluator
from cds_hooks.contexts import HookContext, validate_context
from cds_hooks.draft_orders import DraftOrders
from cds_hooks.errors import BodyTooLarge, HookMismatch, InvalidRequest, UnknownService
from cds_hooks.fhir_client import FhirClient
from cds_hooks.models import CdsResponse, CdsService, HookRequest
from cds_hooks.prefetch import FetchObserver, ResolvedData, resolve_prefetch
from rules.hooks import SPEC_BY_SERVICE
from rules.language import Language

__all__ = [
    "HookOutcome",
    "evaluate_hook_request",
    "parse_json",
    "response_json",
    "service_for",
    "validation_message",
]

MAX_BODY_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class HookOutcome:
    body_json: bytes
    """The response body, serialised: what the service sends."""
    request: HookRequest
    context: HookContext
    evaluation: Evaluation
    resolved: ResolvedData
    duration_ms: float

    @property
    def body(self) -> dict[str, Any]:
        """The response body as a dict (the CLI's tables and tests)."""
        parsed: dict[str, Any] = orjson.loads(self.body_json)
        return parsed


def service_for(service_id: str, services: dict[str, CdsService]) -> CdsService:
    service = services.get(service_id)
    if service is None:
        raise UnknownService(f"no CDS service with id {service_id!r}", location="id")
    return service


def parse_json(body: bytes) -> Any:
    if len(body) > MAX_BODY_BYTES:
        raise BodyTooLarge(f"the body is larger than {MAX_BODY_BYTES} bytes")
    if not body.strip():
        raise InvalidRequest("the request has no body; send a JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(
            f"the body is not valid JSON: {exc.msg} at position {exc.pos}"
        ) from exc


def validation_message(exc: ValidationError) -> tuple[str, str]:
    first = exc.errors()[0]
    location = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{location}: {first['msg']}", location


def response_json(evaluation: Evaluation) -> bytes:
    """The response body: the cards, serialised by the CDS Hooks models."""
    return CdsResponse(cards=evaluation.cards).to_json()


async def evaluate_hook_request(
    payload: Any,
    *,
    service: CdsService,
    evaluator: Evaluator,
    fhir_client_for: Callable[[HookRequest], FhirClient | None],
    deadline_seconds: float,
    language: Language,
    today: date | None = None,
    started: float | None = None,
    on_fetch: FetchObserver | None = None,
) -> HookOutcome:
    """Answer a parsed hook request; raises a `CdsHooksError` for anything it cannot answer.

    `started` (a `time.perf_counter()` value) lets the caller count its own parsing in
    `duration_ms`; `on_fetch` hears of every fetch from fhirServer (the service's metrics)."""
    started = time.perf_counter() if started is None else started
    if not isinstance(payload, dict):
        raise InvalidRequest("the body must be a JSON object (a CDS Hooks request)")
    try:
        hook_request = HookRequest.model_validate(payload)
    except ValidationError as exc:
        message, location = validation_message(exc)
        raise InvalidRequest(message, location=location) from exc
    if hook_request.hook != service.hook:
        raise HookMismatch(
            f"service {service.id!r} answers hook {service.hook!r}, not {hook_request.hook!r}",
            location="hook",
        )
    context = validate_context(hook_request.hook, hook_request.context)
    hook_spec = SPEC_BY_SERVICE[service.id]
    draft_orders = DraftOrders.of(context)
    resolved = await resolve_prefetch(
        hook_request,
        hook_spec.prefetch,
        hook_spec.required_keys,
        fhir_client_for(hook_request),
        deadline_seconds,
        draft_orders=draft_orders,
        on_fetch=on_fetch,
    )
    evaluation = evaluator.evaluate(
        EvaluationInput(
            hook=service.hook,
            context=hook_request.context,
            draft_orders=draft_orders,
            resources=resolved.resources,
            missing_data=resolved.missing,
            unasked_data=resolved.unasked,
            cut_off_searches=resolved.cut_off,
            unreadable_searches=resolved.unreadable,
            language=language,
            today=today or date.today(),
        )
    )
    body_json = response_json(evaluation)
    return HookOutcome(
        body_json=body_json,
        request=hook_request,
        context=context,
        evaluation=evaluation,
        resolved=resolved,
        duration_ms=(time.perf_counter() - started) * 1000,
    )
