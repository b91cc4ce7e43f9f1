"""`opioid-cds chronic-users DIR`: the chronic-user worklist of a FHIR Bulk Data export.

Its own module so that `app.cli` only registers it. The list is built by `rules.worklist`
with the engine the service loads (`app.evaluation.load_evaluator`, the same rule set and
overlays); the output holds identifiable data, so a file is written readable by its owner only.
Messages name files, line numbers, resource types and counts, never a resource's content.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from app.cli_support import EXIT_INPUT, EXIT_OK, iso_date
from app.evaluation import load_evaluator
from app.settings import settings_from_environment
from rules.worklist import FORMATS, SECTIONS, ExportError, Summary, build_worklist, render

__all__ = ["add_chronic_users_parser"]


_PRIVACY = (
    "It runs where the data is (the practice or pharmacy): it reads the export from local "
    "disk, keeps its temporary files in a private directory on this machine (deleted "
    "afterwards) and sends nothing anywhere; the list it writes identifies patients, so keep "
    "it on this machine."
)


def _workers(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"not a positive number: {value!r}")
    return int(value)


def _write(text: str, output: str | None) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    # Owner-only from the start: the list names patients.
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    # The mode above applies only to a file it creates: an existing list, world-readable,
    # would keep its mode, so it is set here too (before a byte is written).
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def _report(summary: Summary) -> None:
    """What was read and skipped, on standard error: counts and locations, no content."""
    listed = ", ".join(f"{summary.sections.get(s, 0)} {s}" for s in SECTIONS)
    print(
        f"chronic-users: {summary.files} files, {summary.lines} lines, {summary.patients} "
        f"patients read in {summary.seconds:.1f} s; listed: {listed}",
        file=sys.stderr,
    )
    if summary.practice is not None:
        print(f"  {summary.other_practice} patients of other practices left out", file=sys.stderr)
    if summary.bad_lines:
        print(f"  skipped {summary.bad_lines} unreadable lines:", file=sys.stderr)
        for location in summary.bad_line_locations:
            print(f"    {location}", file=sys.stderr)
        if summary.bad_lines > len(summary.bad_line_locations):
            rest = summary.bad_lines - len(summary.bad_line_locations)
            print(f"    … and {rest} more", file=sys.stderr)
    for label, counts in (
        ("resources of a type the worklist does not read", summary.unknown_types),
        ("resources without a patient reference", summary.without_patient),
        ("patients that could not be evaluated (error type)", summary.not_evaluated),
    ):
        if counts:
            detail = ", ".join(f"{name} {count}" for name, count in sorted(counts.items()))
            print(f"  skipped {label}: {detail}", file=sys.stderr)


def _chronic_users(args: argparse.Namespace) -> int:
    settings = settings_from_environment()
    as_of = args.as_of or settings.clinical_today()
    evaluator = load_evaluator(settings)
    try:
        worklist = build_worklist(
            Path(args.export),
            evaluator,
            as_of=as_of,
            practice=args.practice,
            workers=args.workers,
            work_dir=Path(args.work_dir) if args.work_dir else None,
        )
    except ExportError as exc:
        print(f"opioid-cds: {exc}", file=sys.stderr)
        return EXIT_INPUT
    try:
        _write(render(worklist, args.format, evaluator.ruleset), args.output)
    except OSError as exc:
        print(f"opioid-cds: {args.output}: cannot write ({exc.strerror})", file=sys.stderr)
        return EXIT_INPUT
    _report(worklist.summary)
    return EXIT_OK


def add_chronic_users_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "chronic-users",
        help="the chronic opioid users of a FHIR Bulk Data export, as CSV, JSON or HTML",
        description="List the chronic opioid users in a FHIR Bulk Data export (a directory of "
        "NDJSON files: Patient, PractitionerRole, MedicationRequest, MedicationDispense, "
        "MedicationStatement, Encounter, Condition, …): more than the rule set's threshold "
        "(Eemland: 28) of covered days in the look-back, exactly the patients for whom the "
        "service's chronic-user-review card fires on the same data. OAT patients and "
        "patients in palliative care or with cancer are listed apart. " + _PRIVACY + " "
        "Unreadable lines (reported by file and line number) and resources of other types "
        "are skipped and counted on standard error. Exit code 0 when the list was written, "
        "2 when the export or the output cannot be used.",
    )
    parser.add_argument("export", metavar="DIR", help="the Bulk Data export's directory")
    parser.add_argument(
        "--as-of",
        type=iso_date,
        metavar="DATE",
        help="the day to look back from, YYYY-MM-DD (default: today, OPIOID_CDS_CLINICAL_TIMEZONE)",
    )
    parser.add_argument(
        "--practice",
        metavar="AGB",
        help="only the patients whose GP's practice has this AGB code",
    )
    parser.add_argument("--format", choices=tuple(FORMATS), default="csv", help="default csv")
    parser.add_argument("--output", "-o", metavar="FILE", help="write to FILE (mode 600)")
    parser.add_argument(
        "--workers",
        type=_workers,
        metavar="N",
        help="processes to use (default: every core of this machine)",
    )
    parser.add_argument(
        "--work-dir",
        metavar="DIR",
        help="where the temporary partition files go (default: the system's temporary "
        "directory); they hold patient data until the run ends",
    )
    parser.set_defaults(handler=_chronic_users)
