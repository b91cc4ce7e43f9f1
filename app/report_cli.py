"""`opioid-cds report` and `report-prune`: the agreements report from what the service recorded
(docs/reports.md)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from app.cli_support import EXIT_OK, CliError, iso_date
from app.cli_support import err as _err
from app.cli_support import quiet_service_logs as _quiet_service_logs
from app.settings import settings_from_environment

__all__ = ["add_report_parsers"]


def _agb(value: str) -> str:
    if value != "unknown" and not (len(value) == 8 and value.isdigit()):
        raise argparse.ArgumentTypeError(f"{value!r} is not an AGB code (8 digits)")
    return value


def _report(args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo

    from app.db import create_engine_for
    from app.reporting.render import render
    from app.reporting.service import ReportRequest, make_report, period_problem

    request = ReportRequest(
        since=args.since,
        until=args.until,
        practice=args.practice,
        baseline_until=args.baseline_until,
    )
    problem = period_problem(request)
    if problem is not None:
        raise CliError(problem)
    settings = settings_from_environment()

    async def run() -> bytes:
        engine = create_engine_for(settings.database_url)
        try:
            report = await make_report(engine, request, ZoneInfo(settings.clinical_timezone))
        finally:
            await engine.dispose()
        return render(report, args.format)

    _quiet_service_logs()
    content = asyncio.run(run())
    if args.output:
        Path(args.output).write_bytes(content)
        _err(f"wrote {args.output}")
    else:
        sys.stdout.buffer.write(content)
    return EXIT_OK


def _report_prune(_args: argparse.Namespace) -> int:
    from app.db import create_engine_for
    from app.reporting.prune import prune_report_rows

    settings = settings_from_environment()

    async def run() -> dict[str, int]:
        engine = create_engine_for(settings.database_url)
        try:
            return await prune_report_rows(engine, settings.report_retention_days)
        finally:
            await engine.dispose()

    deleted = asyncio.run(run())
    summary = ", ".join(f"{table}: {n}" for table, n in deleted.items())
    print(f"deleted rows older than {settings.report_retention_days} days ({summary})")
    return EXIT_OK


def add_report_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = commands.add_parser(
        "report",
        help="the agreements report: orders, cards and feedback per region, practice, month",
        description="Count what the service recorded (OPIOID_CDS_DATABASE_URL) per region, "
        "practice and month: orders evaluated, shares long-acting, within the GP's maximum "
        "days, with an indication, with repeats; chronic-use cards; cards and accepted / "
        "overridden feedback per rule; override reasons. Dates are days where the GPs are "
        "(OPIOID_CDS_CLINICAL_TIMEZONE), both ends included. csv and html show counts of 1 "
        "to 4 as <5; json has exact numbers. See docs/reports.md.",
    )
    report.add_argument("--since", type=iso_date, metavar="DATE", help="first day (default: all)")
    report.add_argument("--until", type=iso_date, metavar="DATE", help="last day (default: today)")
    report.add_argument(
        "--practice", type=_agb, metavar="AGB", help="only this practice (the region stays)"
    )
    report.add_argument(
        "--baseline-until",
        type=iso_date,
        metavar="DATE",
        help="last day before the agreements were implemented: compares before and after, "
        "and marks the evaluation points 4 months and 1 year after",
    )
    report.add_argument(
        "--format",
        choices=("json", "csv", "html"),
        default="json",
        help="json: exact numbers (default); csv: scope,period,metric,key,value; html: the "
        "report page as one file. csv and html show counts of 1 to 4 as <5",
    )
    report.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of stdout")
    report.set_defaults(handler=_report)

    prune = commands.add_parser(
        "report-prune",
        help="delete report rows older than OPIOID_CDS_REPORT_RETENTION_DAYS",
        description="Delete recorded orders, cards and feedback older than the retention "
        "(OPIOID_CDS_REPORT_RETENTION_DAYS). The service also does this on start-up and daily.",
    )
    prune.set_defaults(handler=_report_prune)
