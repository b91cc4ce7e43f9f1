"""Start-up work that keeps the first GP's call as fast as the rest.

Without it the first call after a (re)start pays the one-time set-up of pydantic and
`fhir.resources` validators, built on first use. A synthetic signing request (no real
patient) goes through the whole pipeline once before the service takes traffic.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from app.evaluation import Evaluator
from app.pipeline import evaluate_hook_request
from app.services import SERVICES
from rules.hooks import ORDER_SIGN
from rules.language import SUPPORTED_LANGUAGES

__all__ = ["warm_up", "warm_up_request"]

_ATC = "http://www.whocc.no/atc"
_ICPC = "http://hl7.org/fhir/sid/icpc-1-nl"


def _order(order_id: str, atc: str, text: str, authored: date, status: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": order_id,
        "status": status,
        "intent": "order",
        "subject": {"reference": "Patient/warm-up"},
        "authoredOn": authored.isoformat(),
        "requester": {"reference": "PractitionerRole/warm-up-gp"},
        "medicationCodeableConcept": {"coding": [{"system": _ATC, "code": atc}], "text": text},
        "reasonCode": [{"coding": [{"system": _ICPC, "code": "L03"}]}],
        "dosageInstruction": [
            {
                "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
                "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "stuk"}}],
            }
        ],
        "dispenseRequest": {
            "numberOfRepeatsAllowed": 1,
            "expectedSupplyDuration": {"value": 14, "unit": "d", "code": "d"},
        },
    }


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
    return {
        "hook": ORDER_SIGN.hook,
        "hookInstance": "warm-up",
        "context": {
            "userId": "PractitionerRole/warm-up-gp",
            "patientId": "warm-up",
            "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": draft}]},
        },
        "prefetch": {
            **known_empty,
            "patient": {"resourceType": "Patient", "id": "warm-up", "birthDate": "1960-01-01"},
            "medicationRequests": {
                "resourceType": "Bundle",
                "entry": [{"resource": resource} for resource in history],
            },
        },
    }


async def warm_up(evaluator: Evaluator, today: date | None = None) -> list[str]:
    """Run the synthetic request through the pipeline, in both languages; returns the rule
    ids that fired (for the start-up log)."""
    today = today or date.today()
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
