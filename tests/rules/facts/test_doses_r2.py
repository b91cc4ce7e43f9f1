"""Doses the [r2] review found unread (issue 12): UCUM annotation units, pump rates,
combination products and RxNorm release words (docs/definitions.md §1); and every drafted opioid
whose OME cannot be computed, other than by policy, is a problem for `incomplete-check`."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from fhir_fixtures.builders import (
    ATC,
    RXNORM,
    SNOMED,
    concept,
    dispense,
    dosage,
    med_request,
    medication,
    qty,
)
from rules.catalogue import Catalogue, Quantity, ReleaseType
from rules.facts import DurationSource, OrderFacts, Problem
from tests.rules.facts.conftest import build, only_order, order_of

OXYCONTIN_80 = concept(
    (RXNORM, "1049599", "12 HR oxycodone hydrochloride 80 MG Extended Release Oral Tablet")
)
SUBCUTANEOUS = {"route": concept((SNOMED, "34206005", "Subcutaneous route"))}


def _order(catalogue: Catalogue, drug: dict[str, Any], *dosages: dict[str, Any]) -> OrderFacts:
    return order_of(catalogue, med_request("o1", drug, dosages=dosages))


def test_a_dose_in_pills_counts_tablets_of_the_product(catalogue: Catalogue) -> None:
    # The CDS Hooks sandbox doses in {pill}: OxyContin 80 mg, 1 three times a day
    order = _order(catalogue, OXYCONTIN_80, dosage(frequency=3, dose=qty(1, "{pill}")))
    assert order.units_per_day == pytest.approx(3)
    assert order.ome_mg_per_day == pytest.approx(80 * 3 * 1.5)


def test_ultracet_counts_its_tramadol_only(catalogue: Catalogue) -> None:
    ultracet = concept(
        (
            RXNORM,
            "836397",
            "acetaminophen 325 MG / tramadol hydrochloride 37.5 MG Oral Tablet [Ultracet]",
        )
    )
    order = _order(catalogue, ultracet, dosage(frequency=4, dose=qty(2, "{tbl}")))
    assert order.medication.strength_per_unit == Quantity(37.5, "mg")
    assert order.ome_mg_per_day == pytest.approx(2 * 4 * 37.5 * 0.1)


def test_kadian_is_long_acting_from_its_rxnorm_dose_form(catalogue: Catalogue) -> None:
    kadian = concept(
        (RXNORM, "892598", "morphine sulfate 20 MG Extended Release Oral Capsule [Kadian]")
    )
    order = _order(catalogue, kadian, dosage(frequency=1, dose=qty(1, "{capsule}")))
    assert order.release_type is ReleaseType.LONG_ACTING
    assert order.ome_mg_per_day == pytest.approx(20)


def _paracetamol_codeine(*, coded: bool) -> dict[str, Any]:
    """A Medication whose first ingredient is paracetamol 500 mg and second codeine 10 mg."""

    def ingredient(code: str, text: str, mg: float) -> dict[str, Any]:
        item = concept((SNOMED, code, text)) if coded else {"text": text}
        strength = {"numerator": qty(mg, "mg"), "denominator": qty(1, "{tbl}")}
        return {"itemCodeableConcept": item, "strength": strength}

    return medication(
        "med",
        {"text": "Paracetamol met codeïne tablet"},
        ingredient=[
            ingredient("387517004", "Paracetamol", 500),
            ingredient("387494007", "Codeine", 10),
        ],
    )


@pytest.mark.parametrize("coded", [True, False], ids=["by-code", "by-text"])
def test_the_opioid_ingredient_gives_the_strength_not_the_first_one(
    catalogue: Catalogue, coded: bool
) -> None:
    request = med_request(
        "o1",
        reference="Medication/med",
        dosages=[dosage(frequency=3, dose=qty(1, "{tbl}"))],
    )
    order = order_of(catalogue, request, _paracetamol_codeine(coded=coded))
    assert order.medication.strength_per_unit == Quantity(10, "mg")
    assert order.ome_mg_per_day == pytest.approx(10 * 3 * 0.1)  # not 500 × 3 × 0.1 = 150


MORPHINE_10_PER_ML = concept(text="MORFINE INJVLST 10MG/ML")


@pytest.mark.parametrize(
    "dose_and_rate",
    [
        {"rateQuantity": qty(0.1, "mL/h")},
        {"rateQuantity": qty(0.1, None, "ml/uur")},
        {"rateQuantity": qty(1, "mg/h")},
        {"rateRatio": {"numerator": qty(2.4, "mL"), "denominator": qty(1, "d")}},
        {"rateRange": {"low": qty(0.05, "mL/h"), "high": qty(0.1, "mL/h")}},
    ],
    ids=["mL/h", "ml/uur", "mg/h", "ratio", "range-high"],
)
def test_a_pump_rate_with_the_concentration_gives_mg_per_day(
    catalogue: Catalogue, dose_and_rate: dict[str, Any]
) -> None:
    # definitions.md §1: morphine 10 mg/ml at 0.1 ml/h = 24 mg/day; parenteral counts 3 × oral
    pump = {"doseAndRate": [dose_and_rate], **SUBCUTANEOUS}
    order = _order(catalogue, MORPHINE_10_PER_ML, pump)
    assert order.route == "parenteral"
    assert order.ome_mg_per_day == pytest.approx(24 * 3)


def test_the_concentration_may_come_from_the_medication_ingredient(catalogue: Catalogue) -> None:
    morphine = medication(
        "med",
        {"text": "Morfine pomp"},
        ingredient=[
            {
                "itemCodeableConcept": concept((SNOMED, "373529000", "Morphine")),
                "strength": {"numerator": qty(10, "mg"), "denominator": qty(1, "mL")},
            }
        ],
    )
    request = med_request(
        "o1",
        reference="Medication/med",
        dosages=[{"doseAndRate": [{"rateQuantity": qty(0.1, "mL/h")}], **SUBCUTANEOUS}],
    )
    order = order_of(catalogue, request, morphine)
    assert order.ome_mg_per_day == pytest.approx(72)


# A palliative morphine pump as a GP orders it: a 100 ml cassette of 10 mg/ml, s.c.
CASSETTE = {"quantity": qty(100, "mL")}


@pytest.mark.parametrize(
    ("dose_and_rate", "days"),
    [
        # 100 ml ÷ (0.5 ml/h × 24 h = 12 ml a day) = 8.3: 9 days, as the pharmacist counts.
        ({"rateQuantity": qty(0.5, "mL/h")}, 9),
        ({"rateQuantity": qty(0.5, None, "ml/uur")}, 9),
        # 1 mg/h of 10 mg/ml is 2.4 ml a day: 100 ml lasts 42 days.
        ({"rateQuantity": qty(1, "mg/h")}, 42),
        # A range counts at its upper end, as the daily dose does: the fewest days.
        ({"rateRange": {"low": qty(0.2, "mL/h"), "high": qty(0.5, "mL/h")}}, 9),
    ],
    ids=["mL/h", "ml/uur", "mg/h", "range"],
)
def test_a_pump_cassette_lasts_its_volume_at_the_rate(
    catalogue: Catalogue, dose_and_rate: dict[str, Any], days: int
) -> None:
    pump = {"doseAndRate": [dose_and_rate], **SUBCUTANEOUS}
    request = med_request("o1", MORPHINE_10_PER_ML, dosages=[pump], dispenseRequest=CASSETTE)
    order = order_of(catalogue, request)
    assert (order.duration_days, order.duration_source) == (days, DurationSource.QUANTITY)


def test_a_pump_supply_in_ampoules_is_not_divided_by_millilitres(catalogue: Catalogue) -> None:
    """10 ampoules are no 10 ml: the volume of one is not known, so neither are the days."""
    pump = {"doseAndRate": [{"rateQuantity": qty(0.5, "mL/h")}], **SUBCUTANEOUS}
    ampoules = {"quantity": qty(10, "1", "stuk")}
    request = med_request("o1", MORPHINE_10_PER_ML, dosages=[pump], dispenseRequest=ampoules)
    assert order_of(catalogue, request).duration_days is None


def test_a_dispensed_pump_cassette_covers_its_days(catalogue: Catalogue) -> None:
    pump = {"doseAndRate": [{"rateQuantity": qty(0.5, "mL/h")}], **SUBCUTANEOUS}
    handed_over = dispense(
        "d1", MORPHINE_10_PER_ML, "2024-02-25", 0, quantity=qty(100, "mL"), dosageInstruction=[pump]
    )
    del handed_over["daysSupply"]  # the pharmacy gave the cassette, not its days
    exposure = build(catalogue, [], [handed_over]).patient.history[0]
    assert (exposure.start, exposure.end) == (date(2024, 2, 25), date(2024, 3, 4))  # 9 days


# --- not computable: reported, except by policy ------------------------------------------
def _ome_problems(
    catalogue: Catalogue, drug: dict[str, Any], instruction: dict[str, Any]
) -> list[Problem]:
    facts = build(catalogue, [med_request("o1", drug, dosages=[instruction])])
    assert only_order(facts).ome_mg_per_day is None
    return [p for p in facts.problems if p.what == "OME"]


@pytest.mark.parametrize(
    ("drug", "instruction", "reason"),
    [
        (
            concept(text="MORFINE INFVLST"),
            {"doseAndRate": [{"rateQuantity": qty(0.1, "mL/h")}], **SUBCUTANEOUS},
            "concentration unknown",
        ),
        (
            concept((ATC, "N02AA05"), text="oxycodon"),
            dosage(frequency=3, dose=qty(1, "{pill}")),
            "strength per unit unknown",
        ),
        (
            concept((ATC, "N02AA05"), text="oxycodon injectie 10mg/ml"),
            dosage(frequency=3, dose=qty(1, "mL")) | SUBCUTANEOUS,
            "no Dutch conversion factor for oxycodone (parenteral)",
        ),
        (OXYCONTIN_80, dosage(frequency=2, dose=qty(1, "mg/kg")), "dose unit not convertible"),
        (
            OXYCONTIN_80,
            dosage(frequency=None, period=None, dose=qty(1, "{pill}")),
            "doses per day unknown",
        ),
        (
            concept(text="PARACETAMOL/CODEINE TABLET 500MG"),
            dosage(frequency=3, dose=qty(1, "{tbl}")),
            "strength per unit unknown",
        ),
    ],
    ids=[
        "pump-without-concentration",
        "no-strength",
        "no-factor",
        "unit",
        "no-timing",
        "ambiguous-combination",
    ],
)
def test_an_opioid_whose_ome_cannot_be_computed_is_reported(
    catalogue: Catalogue, drug: dict[str, Any], instruction: dict[str, Any], reason: str
) -> None:
    problems = _ome_problems(catalogue, drug, instruction)
    # The OME's own reason stays as the detail; the card says its code's words.
    assert [(p.detail, p.ref) for p in problems] == [(reason, "MedicationRequest/o1")]


def test_methadone_is_not_converted_by_policy_and_not_reported(catalogue: Catalogue) -> None:
    methadone = concept(text="METHADON HCL TABLET 10MG")
    problems = _ome_problems(catalogue, methadone, dosage(frequency=1, dose=qty(1, "{tbl}")))
    assert problems == []
