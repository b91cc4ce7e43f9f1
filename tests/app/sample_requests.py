"""Small, valid CDS Hooks requests for the protocol tests."""

from __future__ import annotations

import uuid
from typing import Any

OXYCODONE_IR = {
    "coding": [
        {
            "system": "urn:oid:2.16.840.1.113883.2.4.4.10",
            "code": "102059",
            "display": "OXYCODON TABLET 10MG",
        },
    ],
    "text": "Oxycodon tablet 10mg",
}


def draft_order(order_id: str = "draft-1") -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": order_id,
        "status": "draft",
        "intent": "order",
        "subject": {"reference": "Patient/pat-1"},
        "authoredOn": "2026-11-22",
        "medicationCodeableConcept": OXYCODONE_IR,
        "dosageInstruction": [
            {"timing": {"repeat": {"frequency": 3, "period": 1, "periodUnit": "d"}}}
        ],
    }


def hook_request(hook: str = "order-sign", **context: Any) -> dict[str, Any]:
    base_context: dict[str, Any] = {"userId": "Practitioner/gp-1", "patientId": "pat-1"}
    if hook in ("order-sign", "order-select"):
        base_context["draftOrders"] = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": draft_order()}],
        }
    if hook == "order-select":
        base_context["selections"] = ["MedicationRequest/draft-1"]
    base_context.update(context)
    return {
        "hook": hook,
        "hookInstance": str(uuid.uuid4()),
        "context": base_context,
        "prefetch": {
            "patient": {"resourceType": "Patient", "id": "pat-1", "birthDate": "1960-04-02"},
            "medicationRequests": {"resourceType": "Bundle", "type": "searchset", "entry": []},
        },
    }
