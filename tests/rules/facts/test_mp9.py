"""Dutch Nictiz MP9-shaped prescriptions (Nictiz MP9 3.0 profiles; Nictiz/HL7-mappings test data).

The resources follow the MP9 3.0 profiles (MedicationAgreement + DispenseRequest +
PharmaceuticalProduct + nl-core PractitionerRole) with the facts of the Nictiz test cases;
they are written by hand, not copied.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from fhir_fixtures.builders import (
    AGB,
    AGB_SPECIALISM,
    GPK,
    GSTD_ROUTE,
    PERIOD_OF_USE,
    PRK,
    SNOMED,
    UCUM,
)
from rules.catalogue import Catalogue
from rules.facts import DurationSource, PrescriberRole, ReleaseType, RoleSource
from tests.rules.facts.conftest import build, only_order

MA_PROFILE = "http://nictiz.nl/fhir/StructureDefinition/mp-MedicationAgreement"
VV_PROFILE = "http://nictiz.nl/fhir/StructureDefinition/mp-DispenseRequest"
STUK = {"value": 1, "unit": "stuk", "system": UCUM, "code": "1"}


def _medication(ident: str, prk: str, gpk: str, display: str) -> dict[str, Any]:
    return {
        "resourceType": "Medication",
        "id": ident,
        "meta": {"profile": ["http://nictiz.nl/fhir/StructureDefinition/mp-PharmaceuticalProduct"]},
        "code": {
            "coding": [
                {"system": GPK, "code": gpk, "display": display},
                {"system": PRK, "code": prk, "display": display, "userSelected": True},
            ],
            "text": display,
        },
    }


def _gp_role() -> list[dict[str, Any]]:
    return [
        {
            "resourceType": "PractitionerRole",
            "id": "huisarts-role",
            "practitioner": {"reference": "Practitioner/huisarts", "display": "P. van Pulver"},
            "organization": {"reference": "Organization/pulver"},
            "specialty": [
                {
                    "coding": [
                        {
                            "system": AGB_SPECIALISM,
                            "code": "0100",
                            "display": "Huisartsen, niet nader gespecificeerd",
                        }
                    ]
                }
            ],
        },
        {
            "resourceType": "Practitioner",
            "id": "huisarts",
            "identifier": [{"system": AGB, "value": "01234567"}],
            "name": [{"family": "Pulver", "given": ["P."]}],
        },
        {
            "resourceType": "Organization",
            "id": "pulver",
            "identifier": [{"system": AGB, "value": "01009999"}],
            "name": "Huisartsenpraktijk Pulver & Partners",
        },
    ]


def _agreement(
    ident: str, medication: str, *, start: str, end: str | None, **extra: Any
) -> dict[str, Any]:
    period: dict[str, Any] = {"start": start}
    if end is not None:
        period["end"] = end
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": ident,
        "meta": {"profile": [MA_PROFILE]},
        "extension": [{"url": PERIOD_OF_USE, "valuePeriod": period}],
        "status": "active",
        "intent": "order",
        "category": [
            {
                "coding": [
                    {
                        "system": SNOMED,
                        "code": "33633005",
                        "display": "voorschrijven van geneesmiddel",
                    }
                ]
            }
        ],
        "medicationReference": {"reference": f"Medication/{medication}"},
        "subject": {"reference": "Patient/kester"},
        "authoredOn": start,
        "requester": {"reference": "PractitionerRole/huisarts-role"},
    }
    resource.update(extra)
    return resource


def _dispense_request(
    ident: str, agreement: str, medication: str, quantity: float
) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": ident,
        "meta": {"profile": [VV_PROFILE]},
        "status": "active",
        "intent": "order",
        "category": [
            {
                "coding": [
                    {"system": SNOMED, "code": "52711000146108", "display": "verstrekkingsverzoek"}
                ]
            }
        ],
        "medicationReference": {"reference": f"Medication/{medication}"},
        "subject": {"reference": "Patient/kester"},
        "basedOn": [{"reference": f"MedicationRequest/{agreement}"}],
        "dispenseRequest": {
            "quantity": {"value": quantity, "unit": "stuk", "system": UCUM, "code": "1"},
            "performer": {"display": "Apotheek De Gulle Gaper"},
        },
    }


def _twice_daily_oral() -> list[dict[str, Any]]:
    return [
        {
            "text": "2 maal per dag 1 stuk, Oraal",
            "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
            "route": {"coding": [{"system": GSTD_ROUTE, "code": "9", "display": "Oraal"}]},
            "doseAndRate": [{"doseQuantity": STUK}],
        }
    ]


def test_oxycodon_mga_example_is_long_acting_twice_daily_14_days_by_a_gp(
    catalogue: Catalogue,
) -> None:
    medication = _medication("oxy-mga", "57614", "111430", "OXYCODON TABLET MGA 10MG")
    agreement = _agreement(
        "ma", "oxy-mga", start="2024-01-01", end="2024-01-14", dosageInstruction=_twice_daily_oral()
    )
    supply = _dispense_request("vv", "ma", "oxy-mga", 28)
    facts = build(
        catalogue,
        [agreement, supply, medication],
        _gp_role(),
        context={"patientId": "kester", "userId": "PractitionerRole/huisarts-role"},
        today=date(2024, 1, 1),
    )
    order = only_order(facts)  # one prescription, not two orders
    assert order.order_id == "MedicationRequest/ma"
    assert order.is_opioid and order.coded
    assert order.release_type is ReleaseType.LONG_ACTING
    assert order.doses_per_day == 2
    assert order.route == "oral"
    assert order.duration_days == 14 and order.total_covered_days == 14
    assert order.duration_source is DurationSource.PERIOD_OF_USE
    assert order.duration_by_source[DurationSource.QUANTITY] == 14  # 28 stuks ÷ 2 per day
    assert order.prescriber_role is PrescriberRole.GP
    assert order.prescriber_role_source is RoleSource.REQUESTER
    assert order.requester_agb == "01234567"
    assert order.organisation_agb == "01009999"
    assert order.pharmacy_id == "name:apotheek de gulle gaper"
    assert order.ome_mg_per_day == pytest.approx(30.0)


def test_selecting_the_dispense_request_selects_its_agreement(catalogue: Catalogue) -> None:
    medication = _medication("oxy-mga", "57614", "111430", "OXYCODON TABLET MGA 10MG")
    agreement = _agreement("ma", "oxy-mga", start="2024-01-01", end="2024-01-14")
    supply = _dispense_request("vv", "ma", "oxy-mga", 28)
    facts = build(
        catalogue,
        [agreement, supply, medication],
        hook="order-select",
        context={"patientId": "kester", "selections": ["MedicationRequest/vv"]},
    )
    assert only_order(facts).selected


def test_codeine_as_needed_for_cough(catalogue: Catalogue) -> None:
    medication = _medication("codeine", "42773", "23086", "CODEINE TABLET 10MG (FOSFAAT)")
    instruction = {
        "text": "Bij hoest 1 à 2 stuks, maximaal 6 stuks per dag, oraal",
        "asNeededCodeableConcept": {
            "coding": [
                {
                    "system": "https://referentiemodel.nhg.org/tabellen/nhg-tabel-25-gebruiksvoorschrift#aanvullend-numeriek",
                    "code": "1387",
                    "display": "Bij hoest",
                }
            ]
        },
        "maxDosePerPeriod": {
            "numerator": {"value": 6, "unit": "stuk", "system": UCUM, "code": "1"},
            "denominator": {"value": 1, "unit": "dag", "system": UCUM, "code": "d"},
        },
        "route": {"coding": [{"system": GSTD_ROUTE, "code": "9", "display": "Oraal"}]},
        "doseAndRate": [{"doseRange": {"low": dict(STUK), "high": {**STUK, "value": 2}}}],
    }
    agreement = _agreement(
        "ma", "codeine", start="2024-01-01", end="2024-01-22", dosageInstruction=[instruction]
    )
    order = only_order(build(catalogue, [agreement, medication], _gp_role()))
    assert order.is_opioid and order.is_antitussive_codeine
    assert order.as_needed
    assert order.release_type is ReleaseType.SHORT_ACTING
    assert order.duration_days == 22
    assert order.ome_mg_per_day == pytest.approx(6 * 10 * 0.1)  # the maximum per day


def test_morphine_pump_counts_its_rate_with_the_parenteral_factor(catalogue: Catalogue) -> None:
    medication = _medication("morfine", "94692", "134538", "MORFINE INFVLST 5MG/ML CAS 100ML")
    instruction = {
        "doseAndRate": [
            {
                "rateRange": {
                    "low": {"value": 0.2, "unit": "ml/uur"},
                    "high": {"value": 0.5, "unit": "ml/uur"},
                }
            }
        ],
        "route": {"text": "Subcutaan"},
    }
    agreement = _agreement(
        "ma", "morfine", start="2024-01-01", end=None, dosageInstruction=[instruction]
    )
    order = only_order(build(catalogue, [agreement, medication], _gp_role()))
    assert order.is_opioid
    assert order.route == "parenteral"
    # The high end of the rate: 0.5 mL/h × 24 h × 5 mg/mL = 60 mg/day, × 3 parenteral
    assert order.ome_mg_per_day == pytest.approx(180.0)
    assert order.duration_indefinite


def test_contained_medication_and_role_of_a_specialist(catalogue: Catalogue) -> None:
    agreement = _agreement("ma", "unused", start="2024-01-01", end="2024-01-05")
    agreement["medicationReference"] = {"reference": "#med"}
    agreement["contained"] = [
        _medication("med", "57614", "111430", "OXYCODON TABLET MGA 10MG"),
        {
            "resourceType": "PractitionerRole",
            "id": "orthopeed",
            "specialty": [
                {"coding": [{"system": AGB_SPECIALISM, "code": "0305", "display": "Orthopedie"}]}
            ],
        },
    ]
    agreement["requester"] = {"reference": "#orthopeed"}
    order = only_order(build(catalogue, [agreement]))
    assert order.is_opioid
    assert order.prescriber_role is PrescriberRole.SPECIALIST
    assert order.duration_days == 5
