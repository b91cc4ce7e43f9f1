"""Plain FHIR R4 (CDC-style) requests end to end, and the explanation of an order."""

from __future__ import annotations

from datetime import date

import orjson
import pytest

from fhir_fixtures.builders import RXNORM, UCUM
from rules.catalogue import Catalogue
from rules.facts import DurationSource, PrescriberRole, Quantity, RecognisedBy, ReleaseType
from tests.rules.facts.conftest import build, only_order


def _oxycontin_order() -> dict[str, object]:
    return {
        "resourceType": "MedicationRequest",
        "id": "oxycontin",
        "status": "draft",
        "intent": "order",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/medicationrequest-category",
                        "code": "community",
                    }
                ]
            }
        ],
        "medicationCodeableConcept": {
            "coding": [
                {
                    "system": RXNORM,
                    "code": "1049502",
                    "display": "12 HR Oxycodone Hydrochloride 10 MG Extended Release Oral Tablet",
                }
            ]
        },
        "subject": {"reference": "Patient/p1"},
        "authoredOn": "2024-03-01",
        "requester": {"reference": "Practitioner/cdc-doc", "display": "Dr. Example"},
        "dosageInstruction": [
            {
                "timing": {"repeat": {"frequency": 1, "period": 12, "periodUnit": "h"}},
                "asNeededBoolean": False,
                "doseAndRate": [
                    {
                        "doseQuantity": {
                            "value": 1,
                            "unit": "tablet",
                            "system": UCUM,
                            "code": "{tab}",
                        }
                    }
                ],
            }
        ],
        "dispenseRequest": {
            "validityPeriod": {"start": "2024-03-01", "end": "2024-09-01"},
            "numberOfRepeatsAllowed": 1,
            "quantity": {"value": 60, "unit": "tablet"},
            "expectedSupplyDuration": {"value": 30, "unit": "days", "system": UCUM, "code": "d"},
        },
    }


def test_cdc_style_extended_release_order(catalogue: Catalogue) -> None:
    order = only_order(build(catalogue, [_oxycontin_order()]))
    assert order.order_id == "MedicationRequest/oxycontin"
    assert (order.status, order.intent, order.authored_on) == ("draft", "order", date(2024, 3, 1))
    assert order.recognised_by is RecognisedBy.RXNORM and order.coded
    assert order.release_type is ReleaseType.LONG_ACTING
    assert order.medication.dose_form == "Extended Release Oral Tablet"
    assert order.route == "oral"
    assert order.doses_per_day == 2
    assert order.dose == Quantity(1, "1")
    assert order.units_per_day == 2
    assert order.ome_mg_per_day == pytest.approx(30.0)
    assert order.duration_source is DurationSource.EXPECTED_SUPPLY_DURATION
    assert order.duration_by_source == {
        DurationSource.EXPECTED_SUPPLY_DURATION: 30,
        DurationSource.QUANTITY: 30,
    }
    assert (order.duration_days, order.repeats_allowed, order.total_covered_days) == (30, 1, 60)
    assert order.requester_ref == "Practitioner/cdc-doc"
    assert order.prescriber_role is PrescriberRole.GP  # unknown → assumed GP (default)
    assert not order.has_indication and order.indication_codes == ()


def test_explanation_is_json_and_names_the_facts(catalogue: Catalogue) -> None:
    order = only_order(build(catalogue, [_oxycontin_order()]))
    explained = orjson.loads(orjson.dumps(order.explain()))
    assert explained["order_id"] == "MedicationRequest/oxycontin"
    assert explained["release_type"] == "long-acting"
    assert explained["duration_days"] == 60  # the total covered duration, repeats included
    assert explained["supply_duration_days"] == 30
    assert explained["ome_mg_per_day"] == pytest.approx(30.0)
    assert explained["prescriber_role_source"] == "assumed"
    assert explained["substances"] == ["oxycodone"]
