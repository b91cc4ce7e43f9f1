"""The lenient readers of FHIR JSON values (`rules.facts.fhir_access`)."""

from __future__ import annotations

from datetime import date

import pytest

from rules.facts.fhir_access import as_number, as_str, parse_date


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-25", date(2026, 11, 25)),
        ("2026-12-06T09:00:00+01:00", date(2026, 12, 6)),
        (" 2026-11-25 ", date(2026, 11, 25)),
        ("2026", date(2026, 1, 1)),
        ("2026-05", date(2026, 5, 1)),
        ("２０２６-01-01", date(2026, 1, 1)),  # Unicode digits, as int() reads them
        ("9999-12-31", None),  # "no end" in many systems, never a day
        ("9999", None),
        ("99999-01-01", None),  # beyond 9999
        ("12026-01-01", None),
        ("2026-13-45", None),
        ("2026-02-30", None),
        ("2026-1-5", None),
        ("garbage", None),
        ("abcd-ef-gh", None),
        ("", None),
        ("   ", None),
        (None, None),
        (20261125, None),
        ({"start": "2026-11-25"}, None),
    ],
)
def test_parse_date_reads_what_fhir_writes_and_nothing_else(
    value: object, expected: object
) -> None:
    assert parse_date(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("stuk", "stuk"),
        (" stuk ", "stuk"),
        ("", None),
        (" \t", None),
        (57614, "57614"),
        (True, None),
    ],
)
def test_as_str_strips_and_takes_codes_given_as_numbers(value: object, expected: object) -> None:
    assert as_str(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (10, 10.0),
        (-3, -3.0),
        (2**53 + 1, float(2**53 + 1)),  # past the small-int fast path
        (10**301, None),  # beyond what a float holds
        (2.5, 2.5),
        (float("nan"), None),
        ("10", 10.0),
        ("2,5", 2.5),
        (True, None),
        (None, None),
        ("x", None),
    ],
)
def test_as_number_reads_finite_numbers(value: object, expected: object) -> None:
    assert as_number(value) == expected
