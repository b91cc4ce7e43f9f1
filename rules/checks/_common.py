"""Small helpers shared by the checks (not rules themselves)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from rules.facts import PatientFacts, add_days
from rules.registry import RuleContext

__all__ = [
    "DAYS_IN_A_YEAR",
    "consult_after",
    "duration_text",
    "format_date",
    "on_oat",
    "order_interval",
]

DAYS_IN_A_YEAR = 365


def format_date(value: date | None, text: Callable[..., str]) -> str:
    """A date as the GP reads it (`date_format` of the rule set), or the word for unknown."""
    if value is None:
        return text("unknown")
    return text("date_format", day=value.day, month=value.month, year=value.year)


def duration_text(days: int, text: Callable[..., str]) -> str:
    """An order's days as the GP reads them: a count up to a year, beyond it words (a supply
    of a billion days is kept as 100 years, and "36500 dagen" is no duration a GP writes)."""
    if days > DAYS_IN_A_YEAR:
        return text("more_than_a_year")
    return text("days", count=days)


def consult_after(patient: PatientFacts, day: date | None) -> bool:
    """A physical consult strictly after `day` (the current encounter counts when physical)."""
    if patient.current_encounter_physical:
        return True
    if day is None:
        return any(True for _ in patient.physical_consult_dates)
    return any(consult > day for consult in patient.physical_consult_dates)


def order_interval(start: date, days: int) -> tuple[date, date]:
    """The days an order covers; a period of use ending in 9998 with repeats stays a date."""
    return start, add_days(start, max(days, 1) - 1)


def on_oat(ctx: RuleContext[Any]) -> bool:
    """Opioid agonist treatment drafted now or used in the look-back: addiction care is in place."""
    since = ctx.today - timedelta(days=ctx.defaults.lookback_days)
    return any(order.is_oat for order in ctx.facts.opioid_orders) or any(
        exposure.is_oat and (exposure.end is None or exposure.end >= since)
        for exposure in ctx.facts.patient.history
    )
