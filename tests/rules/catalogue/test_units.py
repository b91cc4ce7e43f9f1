"""Units (docs/definitions.md §1): our table of display spellings first, then UCUM through
ucumvert; a unit of annotations only is a count of product units."""

from __future__ import annotations

import pytest

from rules.catalogue import Catalogue, Quantity
from rules.catalogue._ucum import _parsed_unit, ucum_unit


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        # UCUM annotations: the sandbox doses in {pill}; UCUM reads an annotation alone as 1
        (2, "{pill}", Quantity(2, "1")),
        (1, "{tbl}", Quantity(1, "1")),
        (1, "{capsule}", Quantity(1, "1")),
        (2, "{puff}", Quantity(2, "1")),
        (1, "{Patch}", Quantity(1, "1")),
        # UCUM codes the table does not hold, read by the library
        (0.1, "mL/h", Quantity(0.1, "mL/h")),
        (2, "mg/h", Quantity(2000, "ug/h")),
        (480, "ug/d", Quantity(20, "ug/h")),
        (1, "ug/min", Quantity(60, "ug/h")),
        (500, "mg/L", Quantity(0.5, "mg/mL")),
        (1, "cg", Quantity(10, "mg")),
        (30, "mg{total}", Quantity(30, "mg")),
        (10, "mg/{tbl}", Quantity(10, "mg")),
        # display spellings of our table, in any case (UCUM "ML" would be a megalitre)
        (5, "ML", Quantity(5, "mL")),
        (10, "MG", Quantity(10, "mg")),
        (12, "microg/uur", Quantity(12, "ug/h")),
        (0.5, "ml/uur", Quantity(0.5, "mL/h")),
        (1, "stuk", Quantity(1, "1")),
        (1, "pleister", Quantity(1, "1")),
    ],
)
def test_units_to_canonical(
    catalogue: Catalogue, value: float, unit: str, expected: Quantity
) -> None:
    converted = catalogue.units.to_canonical(value, unit)
    assert converted is not None
    assert converted.unit == expected.unit
    assert converted.value == pytest.approx(expected.value)


@pytest.mark.parametrize("unit", ["mg/kg", "%", "kg/m2", "not a unit", "mg/", "[iU]"])
def test_units_outside_our_dimensions_are_not_converted(catalogue: Catalogue, unit: str) -> None:
    # a weight-based or unitless amount is no dose: the caller reports it (incomplete-check)
    assert catalogue.units.to_canonical(1, unit) is None


def test_each_unit_string_is_parsed_once() -> None:
    ucum_unit("ug/min")
    before = _parsed_unit.cache_info()
    for _ in range(100):
        ucum_unit("ug/min")
    after = _parsed_unit.cache_info()
    assert after.misses == before.misses
    assert after.hits == before.hits + 100


def test_a_unit_string_no_dose_has_is_neither_parsed_nor_kept(catalogue: Catalogue) -> None:
    """A request cannot spend the parser's time, nor fill its cache, with long strings."""
    before = _parsed_unit.cache_info()
    for index in range(50):
        assert catalogue.units.to_canonical(1, f"mg/{index}" + "{x}" * 20_000) is None
    assert _parsed_unit.cache_info() == before
