"""Hook requests for the resolver tests (the service's own model, built from wire JSON)."""

from __future__ import annotations

import uuid
from typing import Any

from cds_hooks.models import HookRequest

OXYCODONE = {
    "coding": [
        {
            "system": "urn:oid:2.16.840.1.113883.2.4.4.10",
            "code": "102059",
            "display": "OXYCODON TABLET 10MG",
        }
    ],
    "text": "Oxycodon tablet 10mg",
}


def draft_order(order_id: str = "draft-1", **medication: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": order_id,
        "status": "draft",
        "subject": {"reference": "Patient/pat-1"},
        "authoredOn": "2026-11-22",
    }
    order.update(medication or {"medicationCodeableConcept": OXYCODONE})
    return order


def hook_request(
    *,
    patient_id: str = "pat-1",
    fhir_server: str | None = None,
    access_token: str | None = None,
    prefetch: dict[str, Any] | None = None,
    draft_entries: list[dict[str, Any]] | None = None,
    user_id: str = "Practitioner/gp-1",
    hook: str = "order-sign",
) -> HookRequest:
    body: dict[str, Any] = {
        "hook": hook,
        "hookInstance": str(uuid.uuid4()),
        "context": {
            "userId": user_id,
            "patientId": patient_id,
            "draftOrders": {
                "resourceType": "Bundle",
                "entry": draft_entries
                if draft_entries is not None
                else [{"resource": draft_order()}],
            },
        },
    }
    if fhir_server is not None:
        body["fhirServer"] = fhir_server
    if access_token is not None:
        body["fhirAuthorization"] = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 30,
            "scope": "user/*.read",
            "subject": "opioid-cds",
        }
    if prefetch is not None:
        body["prefetch"] = prefetch
    return HookRequest.model_validate(body)
