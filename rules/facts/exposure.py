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
    intervals: list[Interval] = []
    for exposure in exposures:
        # Each field read once: on a (Python) dataclass every read is an attribute look-up.
        start = exposure.start
        if start is None or start > last:
            continue
        end = exposure.end or start
        if end >= first:
            intervals.append((max(start, first), min(end, last)))
    intervals.sort()
    return tuple(intervals)


def covered_days(intervals: Iterable[Interval]) -> int:
    """Days in the union of the intervals (an interval that ends before it starts is empty)."""
    total = 0
    # The run of days being merged, as ordinals (day numbers: no date arithmetic per
    # interval); there is none while `last` is 0, which no date has.
    first = last = 0
    for start, end in sorted(intervals):
        if end < start:
            continue
        begin, finish = start.toordinal(), end.toordinal()
        if last and begin <= last + 1:
            last = max(last, finish)
            continue
        if last:
            total += last - first + 1
        first, last = begin, finish
    if last:
        total += last - first + 1
    return total
