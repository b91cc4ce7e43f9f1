"""Duration of a prescription: the four sources of definitions.md §1, precedence and repeats."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from fhir_fixtures.builders import (
    ATC,
    DURATION,
    PERIOD_OF_USE,
    PRK,
    RXNORM,
    concept,
    dosage,
    med_request,
    qty,
)
from rules.catalogue import Catalogue
from rules.facts import DurationSource
from tests.rules.facts.conftest import order_of


def _period(
    start: str | None = None, end: str | None = None, weeks: float | None = None
) -> dict[str, Any]:
    period: dict[str, Any] = {}
    if start:
        period["start"] = start
    if end:
        period["end"] = end
    if weeks is not None:
        period["extension"] = [{"url": DURATION, "valueDuration": qty(weeks, "wk", "week")}]
    return {"url": PERIOD_OF_USE, "valuePeriod": period}


TWICE_DAILY = dosage(frequency=2, dose=qty(1, "1", "stuk"))


def test_period_of_use_start_and_end(catalogue: Catalogue) -> None:
    order = order_of(
        catalogue,
        med_request(
            "o",
            concept((PRK, "57614")),
            dosages=[TWICE_DAILY],
            extension=[_period("2024-03-01", "2024-03-07")],
        ),
    )
    assert (order.duration_days, order.duration_source) == (7, DurationSource.PERIOD_OF_USE)
    assert order.total_covered_days == 7
    assert not order.duration_indefinite


def test_period_of_use_nested_duration(catalogue: Catalogue) -> None:
    order = order_of(
        catalogue,
        med_request("o", concept((PRK, "57614")), extension=[_period("2024-03-01", weeks=3)]),
    )
    assert (order.duration_days, order.duration_source) == (21, DurationSource.PERIOD_OF_USE)


def test_period_of_use_with_only_a_start_is_indefinite(catalogue: Catalogue) -> None:
    order = order_of(
        catalogue,
        med_request(
            "o",
            concept((PRK, "57614")),
            dosages=[TWICE_DAILY],
            extension=[_period("2024-03-01")],
            dispenseRequest={"quantity": qty(28, "1")},
        ),
    )
    assert order.duration_indefinite
    assert order.duration_days is None and order.total_covered_days is None
    assert order.duration_source is DurationSource.PERIOD_OF_USE
    # the quantity is still reported for the explanation
    assert order.duration_by_source == {DurationSource.QUANTITY: 14}


@pytest.mark.parametrize("end", ["9999-12-31", "9998-12-31", "2200-01-01"])
def test_a_period_of_use_to_the_far_future_has_no_end(catalogue: Catalogue, end: str) -> None:
    """9999-12-31 is MP9's "no end"; other systems write it as another date no one lives to."""
    order = order_of(
        catalogue,
        med_request(
            "o",
            concept((PRK, "57614")),
            dosages=[TWICE_DAILY],
            extension=[_period("2024-03-01", end)],
        ),
    )
    assert order.duration_indefinite
    assert order.duration_days is None


def test_a_long_period_of_use_within_a_lifetime_keeps_its_end(catalogue: Catalogue) -> None:
    order = order_of(
        catalogue,
        med_request("o", concept((PRK, "57614")), extension=[_period("2024-03-01", "2104-02-29")]),
    )
    assert not order.duration_indefinite
    assert order.duration_days == (date(2104, 2, 29) - date(2024, 3, 1)).days + 1


@pytest.mark.parametrize(
    ("supply", "days"),
    [
        (qty(10, "d", "days"), 10),
        (qty(2, "wk"), 14),
        (qty(1, "mo"), 30),
        ({"value": 5, "unit": "dagen"}, 5),
    ],
)
def test_expected_supply_duration(catalogue: Catalogue, supply: dict[str, Any], days: int) -> None:
    order = order_of(
        catalogue,
        med_request(
            "o", concept((ATC, "N02AA05")), dispenseRequest={"expectedSupplyDuration": supply}
        ),
    )
    assert (order.duration_days, order.duration_source) == (
        days,
        DurationSource.EXPECTED_SUPPLY_DURATION,
    )


def test_timing_bounds_duration_and_period(catalogue: Catalogue) -> None:
    by_duration = dosage(frequency=2, repeat={"boundsDuration": qty(5, "d")})
    order = order_of(catalogue, med_request("o", concept((ATC, "N02AA05")), dosages=[by_duration]))
    assert (order.duration_days, order.duration_source) == (5, DurationSource.TIMING_BOUNDS)
    by_period = dosage(
        frequency=2, repeat={"boundsPeriod": {"start": "2024-03-01", "end": "2024-03-10"}}
    )
    order = order_of(catalogue, med_request("o", concept((ATC, "N02AA05")), dosages=[by_period]))
    assert (order.duration_days, order.duration_source) == (10, DurationSource.TIMING_BOUNDS)
    assert order.start is not None and order.start.isoformat() == "2024-03-01"


def test_timing_bounds_to_the_far_future_give_no_duration(catalogue: Catalogue) -> None:
    """As 9999-12-31: "no end" is no duration, so the next source (28 tablets) is used."""
    far = dosage(
        frequency=2,
        dose=qty(1, "1", "stuk"),
        repeat={"boundsPeriod": {"start": "2024-03-01", "end": "9998-12-31"}},
    )
    order = order_of(
        catalogue,
        med_request(
            "o", concept((PRK, "57614")), dosages=[far], dispenseRequest={"quantity": qty(28, "1")}
        ),
    )
    assert (order.duration_days, order.duration_source) == (14, DurationSource.QUANTITY)


def test_quantity_divided_by_daily_use(catalogue: Catalogue) -> None:
    tablets = order_of(
        catalogue,
        med_request(
            "o",
            concept((PRK, "57614")),
            dosages=[TWICE_DAILY],
            dispenseRequest={"quantity": qty(28, "1", "stuk")},
        ),
    )
    assert (tablets.duration_days, tablets.duration_source) == (14, DurationSource.QUANTITY)
    ten_at_three = order_of(
        catalogue,
        med_request(
            "o",
            concept((PRK, "102059")),
            dosages=[dosage(frequency=3, dose=qty(1, "1"))],
            dispenseRequest={"quantity": qty(10, unit="tablet")},
        ),
    )
    assert ten_at_three.duration_days == 4  # a part of a day counts as a day
    patches = order_of(
        catalogue,
        med_request(
            "o",
            concept((RXNORM, "245134")),
            dosages=[dosage(frequency=1, period=72, period_unit="h", dose=qty(1, "{patch}"))],
            dispenseRequest={"quantity": qty(10, unit="patches")},
        ),
    )
    assert patches.duration_days == 30
    by_mg = order_of(
        catalogue,
        med_request(
            "o",
            concept((RXNORM, "1049683")),
            dosages=[dosage(frequency=2, dose=qty(10, "mg"))],
            dispenseRequest={"quantity": qty(20, "1")},
        ),
    )
    assert by_mg.duration_days == 10  # 20 tablets of 10 mg at 2 × 10 mg a day


def test_sources_take_precedence_in_the_order_of_the_rules(catalogue: Catalogue) -> None:
    request = med_request(
        "o",
        concept((PRK, "57614")),
        dosages=[dosage(frequency=2, dose=qty(1, "1"), repeat={"boundsDuration": qty(5, "d")})],
        extension=[_period("2024-03-01", "2024-03-14")],
        dispenseRequest={"expectedSupplyDuration": qty(10, "d"), "quantity": qty(40, "1")},
    )
    order = order_of(catalogue, request)
    assert order.duration_source is DurationSource.PERIOD_OF_USE
    assert order.duration_by_source == {
        DurationSource.PERIOD_OF_USE: 14,
        DurationSource.EXPECTED_SUPPLY_DURATION: 10,
        DurationSource.TIMING_BOUNDS: 5,
        DurationSource.QUANTITY: 20,
    }
    del request["extension"]
    assert order_of(catalogue, request).duration_days == 10
    del request["dispenseRequest"]["expectedSupplyDuration"]
    assert order_of(catalogue, request).duration_days == 5


def test_repeats_multiply_the_covered_days(catalogue: Catalogue) -> None:
    order = order_of(
        catalogue,
        med_request(
            "o",
            concept((ATC, "N02AA05")),
            dispenseRequest={"expectedSupplyDuration": qty(7, "d"), "numberOfRepeatsAllowed": 2},
        ),
    )
    assert order.duration_days == 7
    assert order.repeats_allowed == 2
    assert order.total_covered_days == 21
    assert order.explain()["duration_days"] == 21


def test_unknown_duration(catalogue: Catalogue) -> None:
    order = order_of(catalogue, med_request("o", concept((ATC, "N02AA05"))))
    assert order.duration_days is None
    assert order.duration_source is DurationSource.NONE
    assert order.total_covered_days is None
    assert not order.duration_indefinite


def test_course_of_therapy_and_prior_prescription(catalogue: Catalogue) -> None:
    order = order_of(
        catalogue,
        med_request(
            "o",
            concept((ATC, "N02AA05")),
            courseOfTherapyType=concept(
                (
                    "http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy",
                    "continuous",
                )
            ),
            priorPrescription={"reference": "MedicationRequest/old"},
            basedOn=[{"reference": "CarePlan/c1"}],
        ),
    )
    assert order.course_of_therapy == "continuous"
    assert order.prior_prescription_ref == "MedicationRequest/old"
    assert order.based_on_refs == ("CarePlan/c1",)
