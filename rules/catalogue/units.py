"""Dose and time units: our table of display spellings first (case-insensitive), then UCUM
(case-sensitive, `_ucum`).

Compiled with the facts builder (rules/native.py): the facts read a unit for every dose,
supply and duration of every resource, and a call from compiled code into a Python method
costs more than the look-up itself.
"""

from __future__ import annotations

from rules.catalogue._model import Quantity, UnitInfo
from rules.catalogue._ucum import COUNT, ucum_unit

__all__ = ["Units"]


class Units:
    """The catalogue's units (units.csv, time_units.csv), keyed by their spelling."""

    def __init__(self, units: dict[str, UnitInfo], days_per_unit: dict[str, float]) -> None:
        self._units = units
        self._days = days_per_unit

    def unit(self, unit: str) -> UnitInfo | None:
        info = self._units.get(unit)
        if info is None:
            info = self._units.get(unit.strip().lower())
        if info is None:
            info = ucum_unit(unit)
        return info

    def of_quantity(self, code: str | None, unit: str | None) -> UnitInfo | None:
        """The unit of a FHIR Quantity: its code's, else its unit text's; a count of the
        product when it states neither."""
        info = self.unit(code) if code else None
        if info is None and unit:
            info = self.unit(unit)
        if info is None and code is None and unit is None:
            return COUNT
        return info

    def to_canonical(self, value: float, unit: str) -> Quantity | None:
        info = self.unit(unit)
        if info is None:
            return None
        return Quantity(value * info.factor, info.canonical)

    def days_per_unit(self, unit: str) -> float | None:
        """Length of a time unit in days (UCUM ``d``, ``wk``, ``mo`` = 30 d, ...)."""
        days = self._days.get(unit)
        if days is None:
            days = self._days.get(unit.strip().lower())
        return days
