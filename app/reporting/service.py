"""One call for the CLI and the page: read the period's rows and count them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from app.reporting.query import load_rows
from app.reporting.summary import Report, build_report

__all__ = ["ReportRequest", "make_report"]


@dataclass(frozen=True)
class ReportRequest:
    """The period and filters of a report; `until` defaults to today where the GPs are."""

    since: date | None = None
    until: date | None = None
    practice: str | None = None
    baseline_until: date | None = None


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
