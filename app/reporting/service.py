"""One call for the CLI and the page: read the period's rows and count them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from app.reporting.query import load_rows
from app.reporting.summary import Report, build_report

__all__ = ["FIRST_DAY", "LAST_DAY", "ReportRequest", "make_report", "period_problem"]

FIRST_DAY: Final = date(2000, 1, 1)
LAST_DAY: Final = date(2099, 12, 31)
"""The dates a report accepts. Without bounds, 9999-12-31 overflows the day arithmetic (a
500) and 0001-01-01 asks for a table row per month for 2,000 years."""


@dataclass(frozen=True)
class ReportRequest:
    """The period and filters of a report; `until` defaults to today where the GPs are."""

    since: date | None = None
    until: date | None = None
    practice: str | None = None
    baseline_until: date | None = None


def period_problem(request: ReportRequest) -> str | None:
    """Why the request's dates cannot make a report, or None."""
    named = (
        ("since", request.since),
        ("until", request.until),
        ("baseline_until", request.baseline_until),
    )
    for name, day in named:
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            return f"{name} must lie between {FIRST_DAY} and {LAST_DAY}"
    if request.since and request.until and request.since > request.until:
        return "since lies after until"
    return None


async def make_report(engine: AsyncEngine, request: ReportRequest, zone: ZoneInfo) -> Report:
    until = request.until or datetime.now(zone).date()
    rows = await load_rows(engine, request.since, until, zone)
    return build_report(
        rows,
        since=request.since,
        until=until,
        practice=request.practice,
        baseline_until=request.baseline_until,
        zone=zone,
    )
