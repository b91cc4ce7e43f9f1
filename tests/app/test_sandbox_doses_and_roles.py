"""What the CDS Hooks sandbox sends (reference: the sandbox's `medication-reducers.js` request
shape): `userId` = Practitioner/X with no Practitioner resource, the user's roles in the
`practitionerRoles` prefetch, a draft dosed in UCUM `{pill}`, a Bundle without `type` and a
single-object `category`. Issue 12: the dose must count and the role must be read."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from fhir_fixtures.builders import RXNORM, SNOMED, UZI_ROLE, bundle, concept, patient

UCUM = "http://unitsofmeasure.org"
USER = "Practitioner/COREPRACTITIONER1"
SEARCHES = (
    "medicationRequests",
    "medicationDispenses",
    "medicationStatements",
    "conditions",
    "encounters",
    "observations",
    "procedures",
)


def _sandbox_request(role_code: dict[str, Any], dose: dict[str, Any]) -> dict[str, Any]:
    draft = {
        "resourceType": "MedicationRequest",
        "id": "request-123",
        "status": "draft",
        "intent": "order",
        "category": {"coding": [{"code": "outpatient"}]},
        "subject": {"reference": "Patient/smart-1288992"},
        "authoredOn": "2026-11-22",
        "medicationCodeableConcept": concept(
            (RXNORM, "1049599", "12 HR oxycodone hydrochloride 80 MG Extended Release Oral Tablet")
        ),
        "dosageInstruction": [
            {
                "doseAndRate": [{"doseQuantity": dose}],
                "timing": {"repeat": {"frequency": 3, "period": 1, "periodUnit": "d"}},
            }
        ],
        "dispenseRequest": {"expectedSupplyDuration": {"value": 30, "unit": "d", "code": "d"}},
    }
    role = {
        "resourceType": "PractitionerRole",
        "id": "role-1",
        "practitioner": {"reference": USER},
        "code": [role_code],
    }
    return {
        "hook": "order-sign",
        "hookInstance": "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "context": {
            "userId": USER,
            "patientId": "smart-1288992",
            "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": draft}]},
        },
        # The sandbox fills every prefetch template from its FHIR server: these searches found
        # nothing (a search it did not send would be named on the incomplete-check card).
        "prefetch": {
            "patient": patient("smart-1288992", birth_date="1960-04-02"),
            "practitionerRoles": bundle([role]),
            **{key: bundle() for key in SEARCHES},
        },
    }


ORTHOPAEDIC_SURGEON = concept((SNOMED, "22731001", "Orthopedic surgeon"))
GP = concept((UZI_ROLE, "01.015", "Huisarts"))
PILL = {"value": 1, "system": UCUM, "code": "{pill}"}


def _cards(api: TestClient, request: dict[str, Any]) -> dict[str, dict[str, Any]]:
    response = api.post("/cds-services/opioid-order-sign", json=request)
    assert response.status_code == 200, response.text
    return {card["source"]["topic"]["code"]: card for card in response.json()["cards"]}


def test_oxycontin_80_in_pills_three_times_a_day_gets_the_dose_card(api: TestClient) -> None:
    cards = _cards(api, _sandbox_request(GP, PILL))
    explanation = cards["high-daily-dose"]["extension"]["nl.opioid-cds.explanation"]
    assert explanation["facts"]["ome_mg_per_day"] == pytest.approx(80 * 3 * 1.5)
    assert "incomplete-check" not in cards


@pytest.mark.parametrize(
    ("role", "gp_card"), [(ORTHOPAEDIC_SURGEON, False), (GP, True)], ids=["surgeon", "gp"]
)
def test_the_users_role_comes_from_the_practitioner_roles_prefetch(
    api: TestClient, role: dict[str, Any], gp_card: bool
) -> None:
    cards = _cards(api, _sandbox_request(role, PILL))
    assert ("gp-duration-limit" in cards) is gp_card


def test_a_dose_in_an_unconvertible_unit_is_named_in_incomplete_check(api: TestClient) -> None:
    per_kg = {"value": 1, "system": UCUM, "code": "mg/kg"}
    cards = _cards(api, _sandbox_request(GP, per_kg))
    assert "high-daily-dose" not in cards
    problems = cards["incomplete-check"]["extension"]["nl.opioid-cds.explanation"]["facts"]
    assert {
        "what": "OME",
        "reason": "unit_not_convertible",
        "ref": "MedicationRequest/request-123",
        "detail": "dose unit not convertible",
    } in problems["problems"]
