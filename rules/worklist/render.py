"""The worklist as CSV, JSON or a self-contained HTML page (no scripts, nothing loaded).

The HTML page gives every chronic user the region's invitation e-mail, taken from the rule set
(`chronic-user-review`, text variant `email`), so a region that changes the text changes it
here too.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Callable
from datetime import date
from typing import Any

import orjson

from rules.rulesets import RuleSet
from rules.worklist.patients import CHRONIC_RULE, SECTIONS, WorklistRow
from rules.worklist.run import Summary, Worklist

__all__ = ["COLUMNS", "FORMATS", "invitation_email", "render"]

COLUMNS = (
    "section",
    "patient",
    "gp",
    "practice",
    "covered_days",
    "oat_days",
    "substances",
    "ome_mg_per_day",
    "last_prescription",
    "last_physical_consult",
    "on_oat",
)
_TITLES = {
    "chronic": "Chronische gebruikers: uitnodigen voor een gesprek (chronic users)",
    "oat": "Opioïd-agonistbehandeling (OAT): apart, niet uitnodigen via deze lijst",
    "palliative": "Palliatieve zorg of kanker: uitgesloten van de uitnodiging",
}
_SPREADSHEET_FORMULA = ("=", "+", "@", "\t", "\r")


def invitation_email(ruleset: RuleSet, language: str = "nl") -> str:
    """The ready-to-send e-mail: the quoted part of the rule's `email` text (the text around it
    introduces the template on the card)."""
    text = ruleset.rules[CHRONIC_RULE].texts["email"].get(language)
    quoted = [line for line in text.splitlines() if line.startswith(">")]
    if not quoted:
        return text.strip()
    return "\n".join(line[1:].removeprefix(" ") for line in quoted).strip()


def _value(row: WorklistRow, column: str) -> Any:
    value = getattr(row, column)
    if isinstance(value, tuple):
        return "; ".join(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _json_value(row: WorklistRow, column: str) -> Any:
    value = getattr(row, column)
    return list(value) if isinstance(value, tuple) else _value(row, column)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    # A name from the export must not run as a formula in the spreadsheet that opens the file.
    return "'" + text if text.startswith(_SPREADSHEET_FORMULA) else text


def _csv(worklist: Worklist, _ruleset: RuleSet) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in worklist.rows:
        writer.writerow([_cell(_value(row, column)) for column in COLUMNS])
    return out.getvalue()


def _summary_json(summary: Summary) -> dict[str, Any]:
    return {
        "as_of": summary.as_of.isoformat(),
        "practice": summary.practice,
        "files": summary.files,
        "lines": summary.lines,
        "resources": dict(sorted(summary.resources.items())),
        "bad_lines": summary.bad_lines,
        "bad_line_locations": summary.bad_line_locations,
        "unknown_types": dict(sorted(summary.unknown_types.items())),
        "without_patient": dict(sorted(summary.without_patient.items())),
        "patients": summary.patients,
        "other_practice": summary.other_practice,
        "not_evaluated": dict(summary.not_evaluated),
        "listed": {section: summary.sections.get(section, 0) for section in SECTIONS},
    }


def _json(worklist: Worklist, _ruleset: RuleSet) -> str:
    body = {
        "sections": {
            section: [
                {column: _json_value(row, column) for column in COLUMNS if column != "section"}
                for row in worklist.rows
                if row.section == section
            ]
            for section in SECTIONS
        },
        "summary": _summary_json(worklist.summary),
    }
    return orjson.dumps(body, option=orjson.OPT_INDENT_2).decode() + "\n"


_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222}
table{border-collapse:collapse;margin-bottom:2rem}th,td{border:1px solid #ccc;padding:.3rem .5rem;
text-align:left;vertical-align:top}th{background:#f3f3f3}.notice{background:#fff4ce;padding:.6rem}
textarea{width:40rem;height:14rem;font:inherit}
"""


def _html_table(rows: list[WorklistRow], email: str | None) -> str:
    columns = [column for column in COLUMNS if column != "section"]
    head = "".join(f"<th>{html.escape(column)}</th>" for column in columns)
    if email is not None:
        head += "<th>e-mail</th>"
    body: list[str] = []
    for row in rows:
        cells = "".join(f"<td>{html.escape(_cell(_value(row, c)))}</td>" for c in columns)
        if email is not None:
            cells += (
                "<td><details><summary>uitnodiging</summary>"
                f"<textarea readonly>{html.escape(email)}</textarea></details></td>"
            )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _html(worklist: Worklist, ruleset: RuleSet) -> str:
    summary = worklist.summary
    email = invitation_email(ruleset)
    parts = [
        "<!doctype html><html lang=nl><head><meta charset=utf-8>",
        "<title>Chronische opioïdgebruikers</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Chronische opioïdgebruikers op {summary.as_of.isoformat()}</h1>",
        '<p class="notice">Bevat herleidbare patiëntgegevens: alleen op deze computer gebruiken '
        "en niet doorsturen. (Identifiable patient data: keep it on this machine.)</p>",
    ]
    not_evaluated = sum(summary.not_evaluated.values())
    if not_evaluated:
        # A patient whose data could not be judged may be a chronic user: the list says so.
        parts.append(
            f'<p class="notice">{not_evaluated} patiënt(en) konden niet worden beoordeeld en '
            "staan niet op deze lijst; controleer hen zelf. "
            f"({not_evaluated} patient(s) could not be evaluated and are not listed.)</p>"
        )
    for section in SECTIONS:
        rows = [row for row in worklist.rows if row.section == section]
        parts.append(f"<h2>{html.escape(_TITLES[section])} ({len(rows)})</h2>")
        parts.append(_html_table(rows, email if section == "chronic" else None))
    parts.append(
        f"<p>{summary.patients} patients read, {summary.bad_lines} bad lines, "
        f"{sum(summary.unknown_types.values())} resources of unknown types skipped.</p>"
    )
    parts.append("</body></html>\n")
    return "".join(parts)


FORMATS: dict[str, Callable[[Worklist, RuleSet], str]] = {
    "csv": _csv,
    "json": _json,
    "html": _html,
}


def render(worklist: Worklist, format: str, ruleset: RuleSet) -> str:
    return FORMATS[format](worklist, ruleset)
