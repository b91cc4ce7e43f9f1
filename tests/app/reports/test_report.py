"""The report's numbers, from a known history fed through the HTTP API (scenario.py), on
SQLite and PostgreSQL: JSON exact, CSV and HTML with small cells suppressed, the baseline
comparison with its evaluation points, and retention."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from app.cli import main
from app.db import migrate
from tests.app.reports.scenario import (
    BASELINE_DAYS_AGO,
    BIG_PRACTICE,
    DURATION_RULE,
    SMALL_PRACTICE,
    Posted,
    feed_history,
)
from tests.conftest import fresh_postgres_database


@pytest.fixture(scope="module")
def postgres_report_url() -> Iterator[str]:
    """A PostgreSQL database of this module's own: other tests post to the session's, and
    the counts here must be exactly what this module posted."""
    with fresh_postgres_database("opioid_cds_report") as url:
        yield url


_FED: dict[str, Posted] = {}


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def fed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Posted]:
    """(database url, what was posted): the scenario's history, fed once per database."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('reports') / 'service.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_report_url")
    if url not in _FED:
        migrate(url)
        _FED[url] = feed_history(url)
    return url, _FED[url]


def _report(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    monkeypatch.setenv("OPIOID_CDS_DATABASE_URL", database_url)
    output = tmp_path / "report.out"
    assert main(["report", *args, "-o", str(output)]) == 0
    return output.read_text(encoding="utf-8")


def _baseline_until() -> str:
    return (date.today() - timedelta(days=BASELINE_DAYS_AGO)).isoformat()


def test_json_counts_what_was_posted(
    fed: tuple[str, Posted], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database_url, posted = fed
    report = json.loads(_report(database_url, tmp_path, monkeypatch, "--format", "json"))

    region = report["region"]
    assert region["orders_evaluated"] == posted.orders == 28
    assert region["cards_by_rule"] == dict(posted.cards_by_rule)
    assert region["cards_by_rule"][DURATION_RULE] == 14
    # Within: 9 of 5 days and 5 of 6 days in the region's 7; not: 8 of 14 days and the
    # small practice's 6 of 6 days against its own 5.
    assert (region["gp_orders_within_max_days"], region["gp_orders_with_duration"]) == (14, 28)
    assert region["long_acting"] == 28 and region["with_indication"] == 28
    assert region["feedback_by_rule"] == {DURATION_RULE: {"accepted": 2, "overridden": 4}}
    assert sum(region["override_reasons"].values()) == 4

    small = report["practices"][SMALL_PRACTICE]
    assert small["orders_evaluated"] == 6
    assert small["gp_orders_within_max_days"] == 0
    assert small["cards_by_rule"][DURATION_RULE] == 6
    assert small["feedback_by_rule"] == {DURATION_RULE: {"accepted": 2, "overridden": 4}}
    big = report["practices"][BIG_PRACTICE]
    assert (big["orders_evaluated"], big["gp_orders_within_max_days"]) == (22, 14)
    assert big["feedback_by_rule"] == {}
    # Per month, the months add up to the whole period.
    assert sum(m["orders_evaluated"] for m in region["months"].values()) == 28


def test_the_period_and_the_practice_narrow_the_report(
    fed: tuple[str, Posted], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database_url, _ = fed
    since = (date.today() - timedelta(days=100)).isoformat()
    report = json.loads(
        _report(database_url, tmp_path, monkeypatch, "--since", since, "--practice", SMALL_PRACTICE)
    )

    assert report["region"]["orders_evaluated"] == 19  # the two later batches
    assert list(report["practices"]) == [SMALL_PRACTICE]
    assert report["practices"][SMALL_PRACTICE]["orders_evaluated"] == 6


def test_baseline_compares_before_and_after_and_marks_the_evaluation_points(
    fed: tuple[str, Posted], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database_url, _ = fed
    report = json.loads(
        _report(database_url, tmp_path, monkeypatch, "--baseline-until", _baseline_until())
    )

    baseline = report["baseline"]
    before, after = baseline["before"], baseline["after"]
    assert (before["orders_evaluated"], before["gp_orders_within_max_days"]) == (9, 3)
    assert (after["orders_evaluated"], after["gp_orders_within_max_days"]) == (19, 11)
    assert before["shares"]["gp_within_max_days"] == pytest.approx(3 / 9, abs=1e-4)
    four_months, one_year = baseline["evaluation_points"]
    assert four_months["name"] == "4 months" and four_months["reached"] is True
    # Up to the 4-month point only the first months' batch (60 days ago) counts.
    assert four_months["since_implementation"]["orders_evaluated"] == 8
    assert one_year["name"] == "1 year" and one_year["reached"] is False
    assert one_year["since_implementation"]["orders_evaluated"] == 19

    html = _report(
        database_url,
        tmp_path,
        monkeypatch,
        "--baseline-until",
        _baseline_until(),
        "--format",
        "html",
    )
    assert "Before and after implementation" in html
    assert f"4 months ({four_months['date']})" in html
    assert ">4 months</text>" in html  # the trend chart marks the point


def test_csv_and_html_suppress_counts_under_five(
    fed: tuple[str, Posted], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database_url, _ = fed
    rows = list(
        csv.DictReader(io.StringIO(_report(database_url, tmp_path, monkeypatch, "--format", "csv")))
    )

    def value(scope: str, metric: str, key: str = "") -> str:
        (row,) = [
            r
            for r in rows
            if (r["scope"], r["period"], r["metric"], r["key"]) == (scope, "total", metric, key)
        ]
        return row["value"]

    assert value(SMALL_PRACTICE, "orders_evaluated") == "6"
    assert value(SMALL_PRACTICE, "accepted_by_rule", DURATION_RULE) == "<5"  # 2
    assert value(SMALL_PRACTICE, "overridden_by_rule", DURATION_RULE) == "<5"  # 4
    assert value("region", "cards_by_rule", DURATION_RULE) == "14"
    assert not any(r["value"] in {"1", "2", "3", "4"} for r in rows)

    html = _report(database_url, tmp_path, monkeypatch, "--format", "html")
    assert "<td>&lt;5</td>" in html
    assert not any(f"<td>{n}</td>" in html for n in range(1, 5))


def test_rows_older_than_the_retention_are_pruned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> None:
    migrate(sqlite_url)
    feed_history(sqlite_url)
    monkeypatch.setenv("OPIOID_CDS_REPORT_RETENTION_DAYS", "100")
    monkeypatch.setenv("OPIOID_CDS_DATABASE_URL", sqlite_url)

    assert main(["report-prune"]) == 0

    report = json.loads(_report(sqlite_url, tmp_path, monkeypatch))
    assert report["region"]["orders_evaluated"] == 19  # the batch of 200 days ago is gone
