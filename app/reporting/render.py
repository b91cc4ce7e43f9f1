"""The report as JSON (exact numbers), CSV and HTML (small cells suppressed). The HTML is one
self-contained document: `opioid-cds report --format html` writes it, `/reports` serves it."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from html import escape
from typing import Any, Final

import orjson

from app.reporting.charts import Bar, MonthPoint, bar_chart, trend_chart
from app.reporting.summary import Counts, Report, Scope
from app.reporting.suppress import count, percent, visible

__all__ = ["STYLE_HASH", "render_csv", "render_html", "render_json"]

STYLE: Final = """
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1000px;color:#1a202c;
padding:0 16px}h1{font-size:1.5rem;margin-bottom:4px}
h2{font-size:1.15rem;margin-top:32px;border-bottom:1px solid #e2e8f0}
.meta{color:#4a5568;margin-top:0}table{border-collapse:collapse;margin:8px 0;font-size:.9rem}
th,td{border:1px solid #e2e8f0;padding:4px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}
th{background:#f7fafc}tr.region td{font-weight:600;background:#ebf8ff}
figure{margin:8px 0}figcaption{color:#4a5568;font-size:.85rem}.note{color:#4a5568;font-size:.85rem}
"""
STYLE_HASH: Final = "sha256-" + base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
"""For the page's Content-Security-Policy: this style block and nothing else."""


def render_json(report: Report) -> bytes:
    generated = {"generated_at": datetime.now(UTC).isoformat(timespec="seconds")}
    return orjson.dumps({**generated, **report.to_json()}, option=orjson.OPT_INDENT_2) + b"\n"


# --- CSV: one long table, scope × period × metric ------------------------------------------


def _metric_rows(counts: Counts) -> Iterator[tuple[str, str, str]]:
    yield "orders_evaluated", "", count(counts.orders_evaluated)
    n = counts.orders_evaluated
    yield "share_long_acting", "", percent(counts.long_acting, n)
    yield (
        "share_gp_within_max_days",
        "",
        percent(counts.gp_orders_within_max_days, counts.gp_orders_with_duration),
    )
    yield "share_with_indication", "", percent(counts.with_indication, n)
    yield "share_with_repeats", "", percent(counts.with_repeats, n)
    yield "chronic_use_cards", "", count(counts.chronic_use_cards)
    for rule, cards in sorted(counts.cards_by_rule.items()):
        yield "cards_by_rule", rule, count(cards)
    for rule, outcomes in sorted(counts.feedback_by_rule.items()):
        yield "accepted_by_rule", rule, count(outcomes["accepted"])
        yield "overridden_by_rule", rule, count(outcomes["overridden"])
    for reason, times in counts.override_reasons.most_common():
        yield "override_reason", reason, count(times)


def _scopes(report: Report) -> Iterator[tuple[str, Scope]]:
    yield "region", report.region
    yield from sorted(report.practices.items())


class _SafeCells:
    """A spreadsheet runs a cell that starts with = + - @ (or a tab or CR) as a formula; the
    report's labels are ours, but a cell is quoted as text rather than trusted to stay so."""

    def __init__(self, writer: Any) -> None:
        self._writer = writer

    def writerow(self, row: list[str]) -> None:
        self._writer.writerow(["'" + cell if cell[:1] in _FORMULA_START else cell for cell in row])


_FORMULA_START: Final = frozenset("=+-@\t\r")


def render_csv(report: Report) -> bytes:
    out = io.StringIO()
    writer = _SafeCells(csv.writer(out, lineterminator="\n"))
    writer.writerow(["scope", "period", "metric", "key", "value"])
    for name, scope in _scopes(report):
        for metric, key, value in _metric_rows(scope.total):
            writer.writerow([name, "total", metric, key, value])
        for month, counts in sorted(scope.months.items()):
            for metric, key, value in _metric_rows(counts):
                writer.writerow([name, month, metric, key, value])
    if report.baseline is not None:
        scope_name = report.practice or "region"
        periods = [("before", report.baseline.before), ("after", report.baseline.after)]
        periods += [
            (f"{point.name} ({point.date.isoformat()})", point.since_implementation)
            for point in report.baseline.points
        ]
        for period, counts in periods:
            for metric, key, value in _metric_rows(counts):
                writer.writerow([scope_name, period, metric, key, value])
    return out.getvalue().encode()


# --- HTML ----------------------------------------------------------------------------------


def _table(headers: list[str], rows: list[list[str]], row_class: list[str] | None = None) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for index, row in enumerate(rows):
        css = f' class="{row_class[index]}"' if row_class and row_class[index] else ""
        body.append(f"<tr{css}>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _summary_cells(counts: Counts) -> list[str]:
    n = counts.orders_evaluated
    accepted = sum(c["accepted"] for c in counts.feedback_by_rule.values())
    overridden = sum(c["overridden"] for c in counts.feedback_by_rule.values())
    return [
        count(n),
        percent(counts.long_acting, n),
        percent(counts.gp_orders_within_max_days, counts.gp_orders_with_duration),
        percent(counts.with_indication, n),
        percent(counts.with_repeats, n),
        count(counts.chronic_use_cards),
        count(sum(counts.cards_by_rule.values())),
        count(accepted),
        count(overridden),
    ]


_SUMMARY_HEADERS: Final = [
    "orders",
    "long-acting",
    "GP ≤ max. days",
    "indication",
    "repeats",
    "chronic-use cards",
    "cards",
    "accepted",
    "overridden",
]


def _markers(report: Report) -> dict[str, str]:
    if report.baseline is None:
        return {}
    start = report.baseline.until + timedelta(days=1)
    markers = {start.strftime("%Y-%m"): "start"}
    for point in report.baseline.points:
        markers[point.date.strftime("%Y-%m")] = point.name
    return markers


def _trend(report: Report, focus: Scope) -> str:
    markers = _markers(report)
    points = []
    for month in sorted(report.region.months):
        counts = focus.months.get(month, Counts())
        points.append(
            MonthPoint(
                label=month,
                orders=counts.orders_evaluated,
                within=(counts.gp_orders_within_max_days, counts.gp_orders_with_duration),
                long_acting=(counts.long_acting, counts.orders_evaluated),
                marker=markers.get(month),
            )
        )
    return trend_chart(points, "Orders and shares per month")


def _per_rule(counts: Counts) -> str:
    rules = sorted(set(counts.cards_by_rule) | set(counts.feedback_by_rule))
    rows = []
    for rule in rules:
        outcomes = counts.feedback_by_rule.get(rule, Counter())
        rows.append(
            [
                rule,
                count(counts.cards_by_rule.get(rule, 0)),
                count(outcomes.get("accepted", 0)),
                count(outcomes.get("overridden", 0)),
            ]
        )
    return _table(["rule", "cards", "accepted", "overridden"], rows)


def _baseline_section(report: Report) -> str:
    baseline = report.baseline
    if baseline is None:
        return ""
    columns = [("before", baseline.before), ("after", baseline.after)]
    columns += [
        (
            f"{p.name} ({p.date.isoformat()}{'' if p.reached else ', not yet'})",
            p.since_implementation,
        )
        for p in baseline.points
    ]
    cells = [_summary_cells(counts) for _, counts in columns]
    rows = [
        [header, *(column[index] for column in cells)]
        for index, header in enumerate(_SUMMARY_HEADERS)
    ]
    until = baseline.until.isoformat()
    return (
        f"<h2>Before and after implementation ({escape(until)})</h2>"
        f'<p class="note">Before: up to and including {escape(until)}. After: from the day '
        "after. The evaluation points of the agreements (4 months and 1 year after "
        "implementation) count from implementation up to the point.</p>"
        + _table(["", *(name for name, _ in columns)], rows)
    )


def render_html(report: Report) -> bytes:
    focus = report.practices.get(report.practice, Scope()) if report.practice else report.region
    scope_name = f"practice {report.practice}" if report.practice else "the region"
    since = report.since.isoformat() if report.since else "the first record"
    summary_rows = [["Region", *_summary_cells(report.region.total)]]
    summary_rows += [
        [agb, *_summary_cells(scope.total)] for agb, scope in sorted(report.practices.items())
    ]
    region_total = report.region.total
    region_share = visible(
        region_total.gp_orders_within_max_days, region_total.gp_orders_with_duration
    )
    practice_bars = [
        Bar(agb, scope.total.gp_orders_within_max_days, scope.total.gp_orders_with_duration)
        for agb, scope in sorted(report.practices.items())
    ]
    reasons = [Bar(reason, n, n) for reason, n in focus.total.override_reasons.most_common()]
    months = [
        [month, *_summary_cells(focus.months.get(month, Counts()))]
        for month in sorted(report.region.months)
    ]
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Opioid CDS report</title><style>{STYLE}</style></head>",
        '<body data-testid="report">',
        "<h1>Opioid prescribing against the agreements</h1>",
        f'<p class="meta">{escape(scope_name.capitalize())}, {escape(since)} up to and including '
        f"{escape(report.until.isoformat())}. Generated {date.today().isoformat()}.</p>",
        "<h2>Summary</h2>",
        _table(
            ["", *_SUMMARY_HEADERS],
            summary_rows,
            ["region"] + [""] * (len(summary_rows) - 1),
        ),
        f"<h2>Trend per month ({escape(scope_name)})</h2><figure>",
        _trend(report, focus),
        "<figcaption>Bars: orders evaluated. Lines: share of GP orders within the practice's "
        "maximum days, share long-acting. Dashed: start of the agreements and the evaluation "
        "points.</figcaption></figure>",
        "<h2>GP orders within the maximum days, per practice</h2><figure>",
        bar_chart(
            practice_bars,
            "Share of GP orders within max. days per practice",
            shares=True,
            reference=region_share,
        ),
        "<figcaption>Dashed: the region.</figcaption></figure>",
        _baseline_section(report),
        f"<h2>Cards and feedback per rule ({escape(scope_name)})</h2>",
        _per_rule(focus.total),
        f"<h2>Override reasons ({escape(scope_name)})</h2><figure>",
        bar_chart(reasons, "Override reasons", shares=False),
        "</figure>",
        f"<h2>Per month ({escape(scope_name)})</h2>",
        _table(["month", *_SUMMARY_HEADERS], months),
        '<p class="note">&lt;5: between 1 and 4, not shown (small-cell suppression). '
        "Shares are left out where their count or denominator is that small. Prescribers "
        "and patients are not in this report; only practices by AGB code.</p>",
        "</body></html>",
    ]
    return "".join(parts).encode()


def render(report: Report, fmt: str) -> bytes:
    renderers: dict[str, Any] = {"json": render_json, "csv": render_csv, "html": render_html}
    result: bytes = renderers[fmt](report)
    return result
