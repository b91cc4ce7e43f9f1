"""Small helpers shared by the checks (not rules themselves)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, timedelta

from rules.facts import OpioidExposure, PatientFacts

__all__ = ["consult_after", "covered_days", "format_date", "order_interval"]


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


def covered_days(intervals: Iterable[tuple[date, date]]) -> int:
    """Days in the union of inclusive date intervals (overlaps count once, gaps stay gaps)."""
    total = 0
    current_start: date | None = None
    current_end: date | None = None
    for start, end in sorted(intervals):
        if end < start:
            continue
        if current_end is None or current_start is None or start > current_end + timedelta(days=1):
            if current_end is not None and current_start is not None:
                total += (current_end - current_start).days + 1
            current_start, current_end = start, end
        elif end > current_end:
            current_end = end
    if current_end is not None and current_start is not None:
        total += (current_end - current_start).days + 1
    return total


def pain_history(patient: PatientFacts) -> list[OpioidExposure]:
    """Prior opioid exposure that counts for rules 4-11: OAT history does not."""
    return [exposure for exposure in patient.history if not exposure.is_oat]
