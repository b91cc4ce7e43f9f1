"""Card language from Accept-Language, and the fixture loader's date shifting."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from rules.fixtures import ANCHOR_DATE, list_fixtures, load_fixture, shift_dates
from rules.language import preferred_language


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "nl"),
        ("", "nl"),
        ("en", "en"),
        ("en-GB,en;q=0.9,nl;q=0.8", "en"),
        ("nl-NL,en;q=0.5", "nl"),
        ("fr-FR,en;q=0.4", "en"),
        ("fr", "nl"),
        ("*", "nl"),
        ("en;q=0, nl", "nl"),
        ("de;q=0.9,en;q=0.9,nl;q=0.9", "en"),  # ties keep the header's order
        ("en;q=abc,,;;", "nl"),  # malformed entries are skipped, never an error
    ],
)
def test_preferred_language(header: str | None, expected: str) -> None:
    assert preferred_language(header) == expected


def test_the_default_language_is_configurable() -> None:
    assert preferred_language(None, default="en") == "en"
    assert preferred_language("fr", default="en") == "en"


def test_shift_dates_moves_dates_and_datetimes_only() -> None:
    value = {
        "authoredOn": "2026-11-01T09:30:00+01:00",
        "period": {"start": "2026-10-25", "end": "2026-11-07"},
        "birthDate": "1968",
        "code": "2026-11-01-not-a-date",
        "value": 7,
        "list": ["2026-12-31", "text"],
    }
    shifted = shift_dates(value, timedelta(days=3))
    assert shifted == {
        "authoredOn": "2026-11-04T09:30:00+01:00",
        "period": {"start": "2026-10-28", "end": "2026-11-10"},
        "birthDate": "1968",
        "code": "2026-11-01-not-a-date",
        "value": 7,
        "list": ["2027-01-03", "text"],
    }


def test_a_fixture_loaded_for_a_day_tells_the_same_story_relative_to_it() -> None:
    [path] = [p for p in list_fixtures() if p.stem == "gp-duration-14-days"]
    at_anchor, expectation = load_fixture(path, today=ANCHOR_DATE)
    later, _ = load_fixture(path, today=date(2027, 3, 15))
    draft = at_anchor["context"]["draftOrders"]["entry"][0]["resource"]
    moved = later["context"]["draftOrders"]["entry"][0]["resource"]
    assert draft["extension"][0]["valuePeriod"]["start"] == "2026-11-01"
    assert moved["extension"][0]["valuePeriod"]["start"] == "2027-03-15"
    assert moved["extension"][0]["valuePeriod"]["end"] == "2027-03-28"
    assert expectation.service == "opioid-order-sign"
    assert expectation.hook == "order-sign"
    assert "gp-duration-limit" in expectation.must_fire
