"""Doses per day, as-needed and oral morphine equivalents (definitions.md §1; CDC MME oracles)."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_fixtures.builders import ATC, PRK, RXNORM, SNOMED, concept, dosage, med_request, qty
from rules.catalogue import Catalogue, Quantity
from rules.facts import OrderFacts
from tests.rules.facts.conftest import build, order_of


def _order(
    catalogue: Catalogue, medication: dict[str, Any], *dosages: dict[str, Any]
) -> OrderFacts:
    return order_of(catalogue, med_request("o1", medication, dosages=dosages))


# --- CDC MME oracles where the Dutch factors agree (cqframework/opioid-mme-r4 OMTKLogicTests) --
@pytest.mark.parametrize(("every_days", "frequency"), [(3, 1), (1, 1), (2, 1), (1, 3)])
def test_fentanyl_25_patch_is_60_whatever_the_change_interval(
    catalogue: Catalogue, every_days: int, frequency: int
) -> None:
    order = _order(
        catalogue,
        concept((RXNORM, "245134")),
        dosage(frequency=frequency, period=every_days, dose=qty(1, "{patch}")),
    )
    assert order.is_patch
    assert order.ome_mg_per_day == pytest.approx(60.0)


@pytest.mark.parametrize("every_hours", [72, 48])
def test_fentanyl_37_5_patch_is_90(catalogue: Catalogue, every_hours: int) -> None:
    order = _order(
        catalogue,
        concept((RXNORM, "1603495")),
        dosage(frequency=1, period=every_hours, period_unit="h", dose=qty(1, "{patch}")),
    )
    assert order.ome_mg_per_day == pytest.approx(90.0)


def test_fentanyl_patch_dosed_in_ug_per_hour(catalogue: Catalogue) -> None:
    order = _order(
        catalogue,
        concept((ATC, "N02AB03"), text="fentanyl pleister"),
        dosage(frequency=1, period=3, dose=qty(25, "ug/h")),
    )
    assert order.ome_mg_per_day == pytest.approx(60.0)


def test_oxycodone_10_ir_four_times_a_day_is_60(catalogue: Catalogue) -> None:
    order = _order(
        catalogue, concept((RXNORM, "1049683")), dosage(frequency=4, dose=qty(1, "{tab}"))
    )
    assert order.doses_per_day == 4
    assert order.ome_mg_per_day == pytest.approx(60.0)


def test_oxycodone_30_er_twice_a_day_is_90(catalogue: Catalogue) -> None:
    order = _order(
        catalogue, concept((RXNORM, "1049574")), dosage(frequency=2, dose=qty(1, "{tab}"))
    )
    assert order.ome_mg_per_day == pytest.approx(90.0)


def test_a_dose_in_mg_wins_over_the_tablet_strength(catalogue: Catalogue) -> None:
    # 60 mg ER tablet, but the dose is 10 mg every 12 hours → 20 mg oxycodone → 30 OME
    order = _order(
        catalogue,
        concept((RXNORM, "1049593")),
        dosage(frequency=1, period=12, period_unit="h", dose=qty(10, "mg")),
    )
    assert order.doses_per_day == 2
    assert order.ome_mg_per_day == pytest.approx(30.0)


def test_time_of_day_dosing_counts(catalogue: Catalogue) -> None:
    order = _order(
        catalogue,
        concept((RXNORM, "1049593")),
        dosage(time_of_day=["10:00:00", "22:00:00"], dose=qty(10, "mg")),
    )
    assert order.doses_per_day == 2
    assert order.ome_mg_per_day == pytest.approx(30.0)


# --- Dutch factors ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("medication", "dose_mg", "per_day", "ome"),
    [
        (concept((ATC, "N02AA01")), 10, 3, 30),  # morphine 1
        (concept((ATC, "N02AA03")), 4, 2, 40),  # hydromorphone 5
        (concept((ATC, "N02AX06")), 50, 2, 40),  # tapentadol 0.4
        (concept((ATC, "N02AX02")), 50, 4, 20),  # tramadol 0.1
        (concept((ATC, "N02AJ06")), 30, 3, 9),  # codeine 0.1 (with paracetamol)
    ],
)
def test_dutch_conversion_factors(
    catalogue: Catalogue, medication: dict[str, Any], dose_mg: float, per_day: int, ome: float
) -> None:
    order = _order(catalogue, medication, dosage(frequency=per_day, dose=qty(dose_mg, "mg")))
    assert order.ome_mg_per_day == pytest.approx(ome)


@pytest.mark.parametrize(
    ("medication", "reason_part"),
    [
        (concept((ATC, "N07BC02")), "not converted"),  # methadone
        (concept((ATC, "N02AE01")), "not converted"),  # buprenorphine
        (concept((RXNORM, "1115577")), "no Dutch conversion factor"),  # nasal fentanyl
        (concept((RXNORM, "1244687")), "no Dutch conversion factor"),  # injection
        (concept((ATC, "N02AA08")), "no Dutch conversion factor"),  # dihydrocodeine
    ],
)
def test_not_computable_ome_says_why(
    catalogue: Catalogue, medication: dict[str, Any], reason_part: str
) -> None:
    order = _order(catalogue, medication, dosage(frequency=2, dose=qty(1, "{tab}")))
    assert order.ome_mg_per_day is None
    assert reason_part in (order.ome_not_computable_reason or "")


def test_ome_needs_doses_and_strength(catalogue: Catalogue) -> None:
    no_timing = _order(
        catalogue, concept((PRK, "57614")), {"doseAndRate": [{"doseQuantity": qty(1, "1")}]}
    )
    assert no_timing.ome_mg_per_day is None
    assert no_timing.ome_not_computable_reason == "doses per day unknown"
    no_strength = _order(
        catalogue, concept((ATC, "N02AA05")), dosage(frequency=2, dose=qty(1, "1"))
    )
    assert no_strength.ome_not_computable_reason == "strength per unit unknown"
    no_dosage = order_of(catalogue, med_request("o1", concept((ATC, "N02AA05"))))
    assert no_dosage.ome_not_computable_reason == "no dosage instruction"


def test_oral_solution_in_ml_uses_the_concentration(catalogue: Catalogue) -> None:
    # morphine sulfate 2 MG/ML oral solution, 5 mL 6 times a day = 60 mg
    order = _order(catalogue, concept((RXNORM, "892589")), dosage(frequency=6, dose=qty(5, "mL")))
    assert order.ome_mg_per_day == pytest.approx(60.0)
    assert order.units_per_day == pytest.approx(30.0)


def test_product_strength_from_text(catalogue: Catalogue) -> None:
    order = _order(
        catalogue,
        concept((PRK, "999001", "MORFINE TABLET MGA 30MG")),
        dosage(frequency=2, dose=qty(1, "1", "stuk")),
    )
    assert order.ome_mg_per_day == pytest.approx(60.0)


def test_combination_strengths_are_read_in_ingredient_order(catalogue: Catalogue) -> None:
    # codeine is the second name, so 10 mg (not paracetamol's 500): 10 × 3 × 0.1
    order = _order(
        catalogue,
        concept(text="paracetamol/codeine 500/10 mg tablet"),
        dosage(frequency=3, dose=qty(1, "1")),
    )
    assert order.medication.strength_per_unit == Quantity(10, "mg")
    assert order.ome_mg_per_day == pytest.approx(3.0)


def test_a_combination_with_one_strength_for_two_names_is_not_guessed(
    catalogue: Catalogue,
) -> None:
    order = _order(
        catalogue,
        concept(text="paracetamol/codeine tablet 500 mg"),
        dosage(frequency=3, dose=qty(1, "1")),
    )
    assert order.is_opioid
    assert order.medication.strength_per_unit is None
    assert order.ome_mg_per_day is None


# --- doses per day ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("timing", "expected"),
    [
        ({"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}}, 2),
        ({"repeat": {"frequency": 1, "frequencyMax": 3, "period": 1, "periodUnit": "d"}}, 3),
        ({"repeat": {"frequency": 2, "period": 4, "periodUnit": "h"}}, 12),
        ({"repeat": {"frequency": 1, "period": 30, "periodUnit": "min"}}, 48),
        ({"repeat": {"frequency": 2, "period": 1, "periodUnit": "wk"}}, 2 / 7),
        ({"repeat": {"period": 72, "periodUnit": "h"}}, 1 / 3),
        ({"repeat": {"when": ["MORN", "EVE"]}}, 2),
        (
            {
                "repeat": {
                    "frequency": 1,
                    "period": 1,
                    "periodUnit": "d",
                    "dayOfWeek": ["mon", "wed", "fri"],
                }
            },
            3 / 7,
        ),
        (
            {
                "code": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v3-GTSAbbreviation",
                            "code": "TID",
                        }
                    ]
                }
            },
            3,
        ),
        ({"code": {"text": "BID"}}, 2),
        ({}, None),
    ],
)
def test_doses_per_day(
    catalogue: Catalogue, timing: dict[str, Any], expected: float | None
) -> None:
    order = _order(catalogue, concept((ATC, "N02AA05")), {"timing": timing})
    if expected is None:
        assert order.doses_per_day is None
    else:
        assert order.doses_per_day == pytest.approx(expected)


def test_as_needed(catalogue: Catalogue) -> None:
    boolean = _order(catalogue, concept((ATC, "N02AA05")), dosage(frequency=2, as_needed=True))
    assert boolean.as_needed
    nhg = {
        "coding": [
            {"system": "https://referentiemodel.nhg.org/tabellen/nhg-tabel-25", "code": "1137"}
        ]
    }
    coded = _order(
        catalogue, concept((ATC, "N02AA05")), dosage(frequency=2, asNeededCodeableConcept=nhg)
    )
    assert coded.as_needed
    scheduled = _order(catalogue, concept((ATC, "N02AA05")), dosage(frequency=2, as_needed=False))
    assert not scheduled.as_needed


def test_dose_range_takes_the_high_end(catalogue: Catalogue) -> None:
    instruction = dosage(frequency=3)
    instruction["doseAndRate"] = {
        "doseRange": {"low": qty(1, "1"), "high": qty(2, "1")}
    }  # not a list
    order = _order(catalogue, concept((PRK, "102059")), instruction)
    assert order.ome_mg_per_day == pytest.approx(2 * 10 * 3 * 1.5)


def test_max_dose_per_period_when_only_as_needed(catalogue: Catalogue) -> None:
    instruction = {
        "asNeededBoolean": True,
        "maxDosePerPeriod": {"numerator": qty(6, "1"), "denominator": qty(1, "d")},
    }
    order = _order(catalogue, concept((RXNORM, "1049683")), instruction)
    assert order.doses_per_day is None
    assert order.ome_mg_per_day == pytest.approx(6 * 10 * 1.5)


def test_tapering_scheme_reads_steps_in_order(catalogue: Catalogue) -> None:
    step_1 = dosage(
        frequency=3, dose=qty(1, "1"), sequence=1, repeat={"boundsDuration": qty(5, "d")}
    )
    step_2 = dosage(
        frequency=2, dose=qty(1, "1"), sequence=2, repeat={"boundsDuration": qty(5, "d")}
    )
    step_3 = dosage(
        frequency=1, dose=qty(1, "1"), sequence=3, repeat={"boundsDuration": qty(4, "d")}
    )
    order = _order(catalogue, concept((PRK, "102059")), step_3, step_1, step_2)
    assert order.doses_per_day == 3  # the first step
    assert order.ome_mg_per_day == pytest.approx(45.0)  # the highest step
    assert order.duration_days == 14  # the steps together


def test_concurrent_instructions_of_one_step_add_up(catalogue: Catalogue) -> None:
    morning = dosage(frequency=1, dose=qty(2, "1"), sequence=1)
    evening = dosage(frequency=1, dose=qty(1, "1"), sequence=1)
    order = _order(catalogue, concept((PRK, "57614")), morning, evening)
    assert order.doses_per_day == 2
    assert order.ome_mg_per_day == pytest.approx(3 * 10 * 1.5)


def test_route_from_dosage_codes_and_text(catalogue: Catalogue) -> None:
    oral = {"route": concept(("urn:oid:2.16.840.1.113883.2.4.4.9", "9", "Oraal"))}
    assert _order(catalogue, concept((ATC, "N02AA05")), oral).route == "oral"
    rectal = {"route": concept((SNOMED, "37161004"))}
    assert _order(catalogue, concept((ATC, "N02AA01")), rectal).route == "rectal"
    text = {"route": {"text": "subcutaan"}}
    order = _order(
        catalogue, concept((ATC, "N02AA01")), text | dosage(frequency=6, dose=qty(5, "mg"))
    )
    assert order.route == "parenteral"
    # Parenteral morphine has its own factor row (3 × oral): 5 mg × 6 × 3
    assert order.ome_mg_per_day == pytest.approx(90.0)
    oxycodone = _order(
        catalogue, concept((ATC, "N02AA05")), text | dosage(frequency=6, dose=qty(5, "mg"))
    )
    # No parenteral oxycodone row: the oral factor is not applied to an injection.
    assert oxycodone.ome_mg_per_day is None
    assert oxycodone.ome_not_computable_reason == (
        "no Dutch conversion factor for oxycodone (parenteral)"
    )


def test_total_ome_over_drafts_counts_unselected_orders(catalogue: Catalogue) -> None:
    oxy = med_request(
        "a", concept((RXNORM, "1049683")), dosages=[dosage(frequency=4, dose=qty(1, "1"))]
    )
    patch = med_request(
        "b", concept((RXNORM, "245134")), dosages=[dosage(frequency=1, period=3, dose=qty(1, "1"))]
    )
    methadone = med_request(
        "c", concept((ATC, "N07BC02")), dosages=[dosage(frequency=1, dose=qty(30, "mg"))]
    )
    facts = build(
        catalogue,
        [oxy, patch, methadone],
        hook="order-select",
        context={"patientId": "p1", "selections": ["MedicationRequest/a"]},
    )
    assert [o.selected for o in facts.orders] == [True, False, False]
    assert facts.patient.total_ome_mg_per_day == pytest.approx(120.0)
    assert len(facts.patient.ome_unconverted) == 1
