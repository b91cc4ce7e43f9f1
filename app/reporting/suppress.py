"""Small-cell suppression for what leaves the service as a table or a page (CSV, HTML,
/reports): a count of 1 to 4 is shown as "<5", so a handful of orders cannot be traced to a
patient or a prescriber. A share is shown only when neither its count nor its denominator is
such a small number. The JSON export keeps exact numbers: it is the analyst's raw material,
for whoever may run `opioid-cds report` against the database anyway.
"""

from __future__ import annotations

from typing import Final

__all__ = ["SMALL", "count", "percent", "visible"]

SMALL: Final = "<5"
_THRESHOLD: Final = 5


def _small(value: int) -> bool:
    return 0 < value < _THRESHOLD


def count(value: int) -> str:
    return SMALL if _small(value) else str(value)


def percent(part: int, whole: int) -> str:
    if whole == 0:
        return "–"
    if _small(part) or _small(whole):
        return SMALL
    return f"{100 * part / whole:.0f}%"


def visible(part: int, whole: int) -> float | None:
    """The share a chart may draw, or None where the table shows "<5" or nothing."""
    if whole == 0 or _small(part) or _small(whole):
        return None
    return part / whole
