"""Opioid exposure over time: the one place that counts covered days.

Covered days are the union of inclusive date intervals: overlapping supplies count once, gaps
stay gaps.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from rules.facts.model import OpioidExposure

__all__ = ["Interval", "covered_days", "exposure_intervals"]

Interval = tuple[date, date]
"""First and last day, both inclusive."""


def exposure_intervals(
    exposures: Iterable[OpioidExposure], first: date, last: date
) -> tuple[Interval, ...]:
    """The days each exposure covers within [first, last], sorted."""
    return tuple(
        sorted(
            (max(exposure.start, first), min(exposure.end or exposure.start, last))
            for exposure in exposures
            if exposure.start is not None
            and exposure.start <= last
            and (exposure.end or exposure.start) >= first
        )
    )


def covered_days(intervals: Iterable[Interval]) -> int:
    """Days in the union of the intervals (an interval that ends before it starts is empty)."""
    total = 0
    current: Interval | None = None
    for start, end in sorted(intervals):
        if end < start:
            continue
        if current is not None and start.toordinal() <= current[1].toordinal() + 1:
            if end > current[1]:
                current = (current[0], end)
            continue
        if current is not None:
            total += (current[1] - current[0]).days + 1
        current = (start, end)
    if current is not None:
        total += (current[1] - current[0]).days + 1
    return total
