"""Small helpers shared by the checks (not rules themselves)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from rules.facts import PatientFacts

__all__ = ["consult_after", "format_date", "order_interval"]


def format_date(value: date | None, text: Callable[..., str]) -> str:
    """A date as the GP reads it (`date_format` of the rule set), or the word for unknown."""
    if value is None:
        return text("unknown")
    return text("date_format", day=value.day, month=value.month, year=value.year)


def consult_after(patient: PatientFacts, day: date | None) -> bool:
    """A physical consult strictly after `day` (the current encounter counts when physical)."""
    if patient.current_encounter_physical:
        return True
    if day is None:
        return any(True for _ in patient.physical_consult_dates)
    return any(consult > day for consult in patient.physical_consult_dates)


def order_interval(start: date, days: int) -> tuple[date, date]:
    return start, start + timedelta(days=max(days, 1) - 1)
