"""Counting a period's rows: per region and practice, per month, and with a baseline date
before and after implementation, with the evaluation points of the handbook's step 5
(4 months and 1 year after implementation).

"Within the agreement" is the GP duration agreement: a GP's order whose total duration
(supply × (1 + repeats)) is at most the practice's `max_days` of `gp-duration-limit` at the
time of the call. Orders by others, and GP orders whose duration could not be read, are not
in the denominator; an indefinite order counts as outside.
"""

from __future__ import annotations

import calendar
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from app.reporting.query import CardRow, FeedbackRow, OrderRow, Rows

__all__ = ["CHRONIC_USE_RULES", "EVALUATION_POINTS", "Counts", "Report", "build_report"]

CHRONIC_USE_RULES: Final = frozenset({"chronic-use", "chronic-user-review"})
EVALUATION_POINTS: Final = (("4 months", 4), ("1 year", 12))
UNKNOWN_PRACTICE: Final = "unknown"


@dataclass
class Counts:
    orders_evaluated: int = 0
    long_acting: int = 0
    gp_orders_with_duration: int = 0
    gp_orders_within_max_days: int = 0
    with_indication: int = 0
    with_repeats: int = 0
    chronic_use_cards: int = 0
    cards_by_rule: Counter[str] = field(default_factory=Counter)
    feedback_by_rule: dict[str, Counter[str]] = field(default_factory=dict)
    override_reasons: Counter[str] = field(default_factory=Counter)

    def add_order(self, order: OrderRow) -> None:
        self.orders_evaluated += 1
        self.long_acting += order.release_type == "long-acting"
        self.with_indication += order.has_indication
        self.with_repeats += order.repeats_allowed > 0
        if order.prescriber_role == "gp" and order.gp_max_days is not None:
            if order.duration_indefinite:
                self.gp_orders_with_duration += 1
            elif order.duration_days is not None:
                self.gp_orders_with_duration += 1
                self.gp_orders_within_max_days += order.duration_days <= order.gp_max_days

    def add_card(self, card: CardRow) -> None:
        self.cards_by_rule[card.rule_id] += 1
        self.chronic_use_cards += card.rule_id in CHRONIC_USE_RULES

    def add_feedback(self, item: FeedbackRow) -> None:
        outcomes = self.feedback_by_rule.setdefault(item.rule_id, Counter())
        outcomes[item.outcome] += 1
        if item.outcome == "overridden":
            self.override_reasons[item.reason_code or "(none given)"] += 1

    def shares(self) -> dict[str, float | None]:
        n = self.orders_evaluated
        return {
            "long_acting": _share(self.long_acting, n),
            "gp_within_max_days": _share(
                self.gp_orders_within_max_days, self.gp_orders_with_duration
            ),
            "with_indication": _share(self.with_indication, n),
            "with_repeats": _share(self.with_repeats, n),
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "orders_evaluated": self.orders_evaluated,
            "long_acting": self.long_acting,
            "gp_orders_with_duration": self.gp_orders_with_duration,
            "gp_orders_within_max_days": self.gp_orders_within_max_days,
            "with_indication": self.with_indication,
            "with_repeats": self.with_repeats,
            "chronic_use_cards": self.chronic_use_cards,
            "shares": self.shares(),
            "cards_by_rule": dict(sorted(self.cards_by_rule.items())),
            "feedback_by_rule": {
                rule: {"accepted": c["accepted"], "overridden": c["overridden"]}
                for rule, c in sorted(self.feedback_by_rule.items())
            },
            "override_reasons": dict(self.override_reasons.most_common()),
        }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass
class Scope:
    """The counts of a region or practice: the whole period and per month."""

    total: Counts = field(default_factory=Counts)
    months: dict[str, Counts] = field(default_factory=dict)

    def month(self, key: str) -> Counts:
        return self.months.setdefault(key, Counts())

    def to_json(self) -> dict[str, Any]:
        return {
            **self.total.to_json(),
            "months": {key: counts.to_json() for key, counts in sorted(self.months.items())},
        }


@dataclass(frozen=True)
class EvaluationPoint:
    name: str
    date: date
    reached: bool
    since_implementation: Counts
    """From the day after the baseline up to and including the point (or `until`)."""


@dataclass(frozen=True)
class Baseline:
    until: date
    before: Counts
    after: Counts
    points: list[EvaluationPoint]

    def to_json(self) -> dict[str, Any]:
        return {
            "baseline_until": self.until.isoformat(),
            "before": self.before.to_json(),
            "after": self.after.to_json(),
            "evaluation_points": [
                {
                    "name": point.name,
                    "date": point.date.isoformat(),
                    "reached": point.reached,
                    "since_implementation": point.since_implementation.to_json(),
                }
                for point in self.points
            ],
        }


@dataclass(frozen=True)
class Report:
    since: date | None
    until: date
    practice: str | None
    region: Scope
    practices: dict[str, Scope]
    baseline: Baseline | None

    def to_json(self) -> dict[str, Any]:
        return {
            "period": {
                "since": self.since.isoformat() if self.since else None,
                "until": self.until.isoformat(),
            },
            "practice": self.practice,
            "region": self.region.to_json(),
            "practices": {agb: scope.to_json() for agb, scope in sorted(self.practices.items())},
            "baseline": self.baseline.to_json() if self.baseline else None,
        }


def add_months(day: date, months: int) -> date:
    """The same day `months` later; 31 August + 6 months is the last day of February."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _count(rows: Rows, *, zone: ZoneInfo, first: date, last: date) -> Counts:
    """Counts of the rows whose local day lies in [first, last]."""
    counts = Counts()
    for order in rows.orders:
        if first <= order.at.astimezone(zone).date() <= last:
            counts.add_order(order)
    for card in rows.cards:
        if first <= card.at.astimezone(zone).date() <= last:
            counts.add_card(card)
    for item in rows.feedback:
        if first <= item.at.astimezone(zone).date() <= last:
            counts.add_feedback(item)
    return counts


def _baseline(rows: Rows, until: date, baseline_until: date, zone: ZoneInfo) -> Baseline:
    start = baseline_until + timedelta(days=1)
    points = []
    for name, months in EVALUATION_POINTS:
        point = add_months(baseline_until, months)
        points.append(
            EvaluationPoint(
                name=name,
                date=point,
                reached=point <= until,
                since_implementation=_count(rows, zone=zone, first=start, last=min(point, until)),
            )
        )
    return Baseline(
        until=baseline_until,
        before=_count(rows, zone=zone, first=date.min, last=baseline_until),
        after=_count(rows, zone=zone, first=start, last=until),
        points=points,
    )


def build_report(
    rows: Rows,
    *,
    since: date | None,
    until: date,
    practice: str | None,
    baseline_until: date | None,
    zone: ZoneInfo,
) -> Report:
    """The region counts every row; `practice` narrows the practices shown (and the
    baseline comparison) to one."""
    region = Scope()
    practices: dict[str, Scope] = {}

    def scopes(agb: str | None, month: str) -> list[Counts]:
        key = agb or UNKNOWN_PRACTICE
        found = [region.total, region.month(month)]
        if practice is None or key == practice:
            scope = practices.setdefault(key, Scope())
            found += [scope.total, scope.month(month)]
        return found

    def month_of(row: OrderRow | CardRow | FeedbackRow) -> str:
        return row.at.astimezone(zone).strftime("%Y-%m")

    for order in rows.orders:
        for counts in scopes(order.practice, month_of(order)):
            counts.add_order(order)
    for card in rows.cards:
        for counts in scopes(card.practice, month_of(card)):
            counts.add_card(card)
    for item in rows.feedback:
        for counts in scopes(item.practice, month_of(item)):
            counts.add_feedback(item)
    _fill_months(region, since, until, rows, zone)
    baseline = None
    if baseline_until is not None:
        scoped = rows if practice is None else _only(rows, practice)
        baseline = _baseline(scoped, until, baseline_until, zone)
    return Report(since, until, practice, region, practices, baseline)


def _only(rows: Rows, practice: str) -> Rows:
    def mine(agb: str | None) -> bool:
        return (agb or UNKNOWN_PRACTICE) == practice

    return Rows(
        [row for row in rows.orders if mine(row.practice)],
        [row for row in rows.cards if mine(row.practice)],
        [row for row in rows.feedback if mine(row.practice)],
    )


def _fill_months(
    region: Scope, since: date | None, until: date, rows: Rows, zone: ZoneInfo
) -> None:
    """Months without a call are months with zero orders, not missing from the trend."""
    stamps = [row.at.astimezone(zone).date() for row in rows.orders]
    stamps += [row.at.astimezone(zone).date() for row in rows.cards]
    first = since or (min(stamps) if stamps else until)
    month = date(first.year, first.month, 1)
    while month <= until:
        region.month(month.strftime("%Y-%m"))
        month = add_months(month, 1)
