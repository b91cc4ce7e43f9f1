"""Draft orders end to end: references between draftOrders entries and the order ids.

A medicationReference to an entry's `urn:uuid:` fullUrl is resolved like a plain one, and an
id-less MP9 agreement + dispense request pair gets its `update` suggestion built from the
agreement its order facts describe.
"""

from __future__ import annotations

import copy
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rules.fixtures import FIXTURES_DIR, load_fixture

MEDICATION_URN = "urn:uuid:6f1c2a4e-8f7b-4c3d-9a51-0d2e7b6c1f90"
AGREEMENT_URN = "urn:uuid:0b7e4f0a-2c1d-4e8f-b3a6-5d9c8e7f6a41"
DISPENSE_URN = "urn:uuid:9a3d5c7e-1b2f-4a6d-8c0e-3f5b7d9e1a22"
MA_PROFILE = "http://nictiz.nl/fhir/StructureDefinition/mp-MedicationAgreement"
VV_PROFILE = "http://nictiz.nl/fhir/StructureDefinition/mp-DispenseRequest"
PERIOD_OF_USE = "http://nictiz.nl/fhir/StructureDefinition/ext-TimeInterval.Period"


def _gp_duration_request() -> dict[str, Any]:
    """A GP's oxycodone MGA agreement of 14 days: gp-duration-limit fires, with an update."""
    request, _ = load_fixture(FIXTURES_DIR / "gp-duration-14-days.json")
    return request


def _entries(request: dict[str, Any]) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = request["context"]["draftOrders"]["entry"]
    return entries


def _cards(api: TestClient, request: dict[str, Any]) -> list[dict[str, Any]]:
    response = api.post("/cds-services/opioid-order-sign", json=request)
    assert response.status_code == 200, response.text
    cards: list[dict[str, Any]] = response.json()["cards"]
    return cards


def _rule_ids(cards: list[dict[str, Any]]) -> list[str]:
    return sorted(card["source"]["topic"]["code"] for card in cards)


def _update_resources(card: dict[str, Any]) -> list[dict[str, Any]]:
    """The resources of the card's recommended updates (its change to the order, not the
    reasons on the prescription)."""
    return [
        action["resource"]
        for suggestion in card.get("suggestions", [])
        if suggestion.get("isRecommended")
        for action in suggestion.get("actions", [])
        if action["type"] == "update"
    ]


def _card(cards: list[dict[str, Any]], rule_id: str) -> dict[str, Any]:
    for card in cards:
        if card["source"]["topic"]["code"] == rule_id:
            return card
    raise AssertionError(f"no {rule_id} card; fired {_rule_ids(cards)}")


def test_medication_reference_to_a_urn_uuid_full_url_gets_the_same_cards(
    api: TestClient,
) -> None:
    plain = _gp_duration_request()
    expected = _rule_ids(_cards(api, plain))
    assert "gp-duration-limit" in expected

    request = copy.deepcopy(plain)
    draft = _entries(request)[0]["resource"]
    concept = draft.pop("medicationCodeableConcept")
    draft["medicationReference"] = {"reference": MEDICATION_URN}
    # The Medication's id differs from its fullUrl: only the fullUrl identifies it.
    _entries(request).append(
        {
            "fullUrl": MEDICATION_URN,
            "resource": {"resourceType": "Medication", "id": "med-1", "code": concept},
        }
    )
    assert _rule_ids(_cards(api, request)) == expected


def test_medication_reference_to_a_contained_medication_gets_the_same_cards(
    api: TestClient,
) -> None:
    plain = _gp_duration_request()
    expected = _rule_ids(_cards(api, plain))

    request = copy.deepcopy(plain)
    draft = _entries(request)[0]["resource"]
    concept = draft.pop("medicationCodeableConcept")
    draft["medicationReference"] = {"reference": "#med"}
    draft["contained"] = [{"resourceType": "Medication", "id": "med", "code": concept}]
    assert _rule_ids(_cards(api, request)) == expected


def _mp9_pair_without_ids(*, dispense_first: bool) -> dict[str, Any]:
    """The fixture's agreement and a dispense request, both without ids, linked by fullUrl."""
    request = _gp_duration_request()
    agreement = _entries(request)[0]["resource"]
    del agreement["id"]
    supply = agreement.pop("dispenseRequest")
    dispense_request = {
        "resourceType": "MedicationRequest",
        "meta": {"profile": [VV_PROFILE]},
        "status": "draft",
        "intent": "order",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://snomed.info/sct",
                        "code": "52711000146108",
                        "display": "verstrekkingsverzoek",
                    }
                ]
            }
        ],
        "medicationCodeableConcept": copy.deepcopy(agreement["medicationCodeableConcept"]),
        "subject": copy.deepcopy(agreement["subject"]),
        "requester": copy.deepcopy(agreement["requester"]),
        "basedOn": [{"reference": AGREEMENT_URN}],
        "dispenseRequest": supply,
    }
    entries = [
        {"fullUrl": AGREEMENT_URN, "resource": agreement},
        {"fullUrl": DISPENSE_URN, "resource": dispense_request},
    ]
    request["context"]["draftOrders"]["entry"] = entries[::-1] if dispense_first else entries
    return request


@pytest.mark.parametrize("dispense_first", [True, False], ids=["dispense-first", "agreement-first"])
def test_update_suggestion_of_an_id_less_mp9_pair_is_built_from_the_agreement(
    api: TestClient, dispense_first: bool
) -> None:
    request = _mp9_pair_without_ids(dispense_first=dispense_first)
    cards = _cards(api, request)
    card = _card(cards, "gp-duration-limit")
    resources = _update_resources(card)
    assert resources, "the gp-duration-limit card suggests limiting the agreement"
    for resource in resources:
        assert resource["meta"]["profile"] == [MA_PROFILE]
        periods = [
            extension["valuePeriod"]
            for extension in resource.get("extension", [])
            if extension.get("url") == PERIOD_OF_USE
        ]
        assert len(periods) == 1
        start = periods[0]["start"]
        # Limited to 7 days: the period of use ends on the 7th day.
        first = date.fromisoformat(start[:10])
        assert periods[0]["end"] == (first + timedelta(days=6)).isoformat()
        assert resource["dispenseRequest"]["expectedSupplyDuration"]["value"] == 7
