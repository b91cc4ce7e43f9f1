"""Start-up work that keeps the first GP's call as fast as the rest.

Without it the first call after a (re)start pays the one-time set-up of pydantic and
`fhir.resources` validators, built on first use. A synthetic signing request (no real
patient) goes through the whole pipeline once before the service takes traffic; it is written
with `fhir_fixtures.builders`, the builders the tests and benchmarks use.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from app.evaluation import Evaluator
from app.pipeline import evaluate_hook_request
from app.services import SERVICES
from fhir_fixtures.builders import (
    ATC,
    ICPC,
    bundle,
    concept,
    dispense_request,
    dosage,
    hook_request,
    med_request,
    patient,
    qty,
    reference,
)
from rules.catalogue import warm_ucum
from rules.hooks import ORDER_SIGN
from rules.language import SUPPORTED_LANGUAGES

__all__ = ["warm_up", "warm_up_request"]

_PATIENT = "warm-up"
_GP_ROLE = "PractitionerRole/warm-up-gp"


def _order(order_id: str, atc: str, text: str, authored: date, status: str) -> dict[str, Any]:
    return med_request(
        order_id,
        concept((ATC, atc), text=text),
        status=status,
        authored=authored.isoformat(),
        patient=_PATIENT,
        requester=reference(_GP_ROLE),
        reasonCode=[concept((ICPC, "L03"))],
        dosages=[dosage(frequency=2, dose=qty(1, unit="stuk"))],
        dispenseRequest=dispense_request(repeats=1, days=14),
    )


def warm_up_request(today: date) -> dict[str, Any]:
    """A signing request that makes most rules fire (with suggestions): an oxycodon order
    for 14 days with a repeat, after a year of opioids and a benzodiazepine."""
    history = [
        _order(f"warm-up-{n}", "N02AA05", "OXYCODON TABLET MGA 10MG", today - timedelta(9 * n), s)
        for n, s in ((1, "active"), (2, "completed"), (3, "completed"))
    ]
    history.append(
        _order("warm-up-s", "N05BA04", "OXAZEPAM TABLET 10MG", today - timedelta(2), "active")
    )
    draft = _order("warm-up-draft", "N02AA05", "OXYCODON TABLET 10MG", today, "draft")
    known_empty: dict[str, Any] = dict.fromkeys(ORDER_SIGN.prefetch)
    return hook_request(
        ORDER_SIGN.hook,
        hook_instance="warm-up",
        user_id=_GP_ROLE,
        patient_id=_PATIENT,
        drafts=[draft],
        prefetch={
            **known_empty,
            "patient": patient(_PATIENT, birth_date="1960-01-01"),
            "medicationRequests": bundle(history),
        },
    )


async def warm_up(evaluator: Evaluator, today: date | None = None) -> list[str]:
    """Run the synthetic request through the pipeline, in both languages; returns the rule
    ids that fired (for the start-up log)."""
    today = today or date.today()
    warm_ucum()  # the UCUM registry takes seconds to build: in a thread, not in a GP's call
    service = SERVICES[ORDER_SIGN.service_id]
    fired: list[str] = []
    for language in SUPPORTED_LANGUAGES:
        outcome = await evaluate_hook_request(
            warm_up_request(today),
            service=service,
            evaluator=evaluator,
            fhir_client_for=lambda _request: None,
            deadline_seconds=1.0,
            language=language,
            today=today,
        )
        fired = outcome.evaluation.fired_rule_ids
    return fired
