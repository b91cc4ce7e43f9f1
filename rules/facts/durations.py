"""How long a medication is used: the one reader of durations and periods of use for every
kind of resource (MedicationRequest, MedicationDispense, MedicationStatement).

A prescription's duration comes from the first of four sources that applies (`DurationSource`
order): the Nictiz period of use, `dispenseRequest.expectedSupplyDuration`, the timing's
`bounds[x]`, and the quantity ÷ daily use. All sources found are kept for the explanation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date
from typing import Any, Final

from rules.catalogue import Catalogue
from rules.facts.fhir_access import as_dict, extension_map, extensions, is_object, parse_date
from rules.facts.medication import Regimen, period_end
from rules.facts.model import DurationSource, MedicationFacts
from rules.facts.quantities import duration_days, quantity_of

__all__ = [
    "MAX_DAYS",
    "DispenseSupply",
    "Durations",
    "PeriodOfUse",
    "StatementPeriod",
    "add_days",
    "dispense_supply",
    "interval_end",
    "period_of_use",
    "quantity_days",
    "request_durations",
    "statement_period",
    "whole_days",
]

JsonDict = Mapping[str, Any]

PERIOD_OF_USE_URLS = (
    "http://nictiz.nl/fhir/StructureDefinition/ext-TimeInterval.Period",
    # STU3-era zib extension, still seen in older MP9 exports.
    "http://nictiz.nl/fhir/StructureDefinition/zib-Medication-PeriodOfUse",
)
DURATION_URLS = (
    "http://nictiz.nl/fhir/StructureDefinition/ext-TimeInterval.Duration",
    "http://nictiz.nl/fhir/StructureDefinition/zib-MedicationUse-Duration",
)

# The sources as C statics (Final): compiled, an enum member is otherwise looked up by name
# through its metaclass at each use, and every request of a history names a few.
_PERIOD_OF_USE: Final = DurationSource.PERIOD_OF_USE
_EXPECTED_SUPPLY: Final = DurationSource.EXPECTED_SUPPLY_DURATION
_TIMING_BOUNDS: Final = DurationSource.TIMING_BOUNDS
_QUANTITY: Final = DurationSource.QUANTITY
_NO_SOURCE: Final = DurationSource.NONE

# Not a domain limit: keeps date arithmetic on absurd input (1e300 days) inside ``date``.
MAX_DAYS = 36_500
_MAX_ORDINAL = date.max.toordinal()


def whole_days(days: float) -> int:
    """Days covered: a part of a day counts as a day (10 tablets at 3/day = 4 days)."""
    if not math.isfinite(days) or days >= MAX_DAYS:
        return MAX_DAYS
    return max(0, math.ceil(days - 1e-9))


def add_days(day: date, days: int) -> date:
    """``day + days`` clamped to the calendar (never an OverflowError)."""
    ordinal = day.toordinal() + days
    if ordinal < 1:
        return date.min
    if ordinal > _MAX_ORDINAL:
        return date.max
    return date.fromordinal(ordinal)


def interval_end(start: date | None, days: int | None) -> date | None:
    """The last day of `days` days from `start` (inclusive); `start` itself without days."""
    if start is None or days is None or days <= 0:
        return start
    return add_days(start, days - 1)


class PeriodOfUse:
    """Nictiz MP9 period of use: start, end and/or a duration; only a start = indefinite.

    A plain class, never changed after it is built: compiled, a dataclass's generated
    ``__init__`` still runs as Python, and one is built for every MP9 building block."""

    def __init__(
        self,
        start: date | None,
        end: date | None,
        days: int | None,
        indefinite: bool,
        unreadable: bool = False,
    ) -> None:
        self.start = start
        self.end = end
        self.days = days
        self.indefinite = indefinite
        self.unreadable = unreadable
        """A start or end was there but could not be read (e.g. "garbage", "2026-13-45"), the
        end lies before the start, or the extension holds no Period (or one with nothing in
        it): the period gives no duration, the next source is used."""


def period_of_use(catalogue: Catalogue, resource: JsonDict) -> PeriodOfUse | None:
    """Nictiz MP9 ``ext-TimeInterval.Period`` (or its nested Duration) on a resource."""
    found = extension_map(resource)
    if not found:
        return None
    for url in PERIOD_OF_USE_URLS:
        extension = found.get(url)
        if extension is None:
            continue
        raw_period = extension.get("valuePeriod")
        period = as_dict(raw_period)
        start = parse_date(period.get("start"))
        end = parse_date(period.get("end"))
        raw_end = period.get("end")
        no_end = isinstance(raw_end, str) and raw_end.startswith("9999")  # "no end"
        # The extension says "period of use": without a Period object in it, none can be read.
        unreadable = (
            not is_object(raw_period)
            or (start is None and period.get("start") is not None)
            or (end is None and raw_end is not None and not no_end)
        )
        if start is not None and end is not None and end < start:
            start, end, unreadable = None, None, True
        if unreadable:
            # Only this source is unknown; a half-read period must not mean "indefinite".
            days = None
            for duration_url in DURATION_URLS:
                for nested in extensions(period, duration_url):
                    found_days = duration_days(catalogue, nested.get("valueDuration"))
                    days = whole_days(found_days) if found_days is not None else days
            return PeriodOfUse(None, None, days, False, True)
        if end is not None and period_end(catalogue, start, end) is None:
            end, no_end = None, True
        days = None
        if start is not None and end is not None and end >= start:
            days = (end - start).days + 1
        if days is None:
            for duration_url in DURATION_URLS:
                for nested in extensions(period, duration_url):
                    found_days = duration_days(catalogue, nested.get("valueDuration"))
                    days = whole_days(found_days) if found_days is not None else days
        if days is None and end is None and start is None and not no_end:
            return PeriodOfUse(None, None, None, False, True)  # a period with nothing in it
        if days is None and end is not None and start is None:
            return PeriodOfUse(None, end, None, False)
        if start is not None and end is None and days is not None:
            end = add_days(start, days - 1)
        indefinite = start is not None and end is None and days is None
        return PeriodOfUse(start, end, days, indefinite)
    stu3_duration = found.get(DURATION_URLS[1])  # STU3-era duration directly on the resource
    if stu3_duration is not None:
        found_days = duration_days(catalogue, stu3_duration.get("valueDuration"))
        if found_days is not None:
            return PeriodOfUse(None, None, whole_days(found_days), False)
    return None


def quantity_days(
    catalogue: Catalogue, quantity_node: object, dosage: Regimen, medication: MedicationFacts
) -> int | None:
    """Supplied quantity ÷ daily use."""
    quantity = quantity_of(catalogue, quantity_node)
    if quantity is None or quantity.value <= 0:
        return None
    if quantity.unit == "mL" and dosage.volume_per_day:  # a pump: ml ÷ (ml/h × 24)
        return whole_days(quantity.value / dosage.volume_per_day)
    units = dosage.units_per_day
    if quantity.unit in ("1", "mL") and units:
        return whole_days(quantity.value / units)
    if quantity.unit == "mg" and dosage.dose is not None and dosage.doses_per_day:
        daily = None
        if dosage.dose.unit == "mg":
            daily = dosage.dose.value * dosage.doses_per_day
        elif dosage.dose.unit == "1":
            strength = medication.strength_per_unit
            if strength is not None and strength.unit == "mg":
                daily = dosage.dose.value * strength.value * dosage.doses_per_day
        if daily:
            return whole_days(quantity.value / daily)
    return None


class Durations:
    """A prescription's duration: every source that gave one, and the first that applies.

    A plain class, never changed after it is built: compiled, a dataclass's generated
    ``__init__`` still runs as Python, and one is built for every opioid request of a history."""

    def __init__(
        self,
        by_source: Mapping[DurationSource, int],
        days: int | None,
        source: DurationSource,
        indefinite: bool,
        start: date | None,
        unreadable: tuple[DurationSource, ...] = (),
    ) -> None:
        self.by_source = by_source
        self.days = days
        """Days of ONE supply (without repeats); None when unknown or indefinite."""
        self.source = source
        self.indefinite = indefinite
        self.start = start
        self.unreadable = unreadable
        """Sources that were there but could not be read (docs/definitions.md, duration
        [r2])."""


def request_durations(
    catalogue: Catalogue,
    request: JsonDict,
    dosage: Regimen,
    medication: MedicationFacts,
    authored_on: date | None,
    *,
    every_source: bool = True,
) -> Durations:
    """The duration sources of a MedicationRequest, in order of precedence. A drafted order
    reads them all (the card explains them); a history request only up to the first that
    applies (`every_source=False`), which is all its exposure needs."""
    by_source: dict[DurationSource, int] = {}
    use = period_of_use(catalogue, request)
    start = (use.start if use else None) or dosage.bounds_start or authored_on
    indefinite = use is not None and use.indefinite
    if use is not None and use.days is not None:
        by_source[_PERIOD_OF_USE] = use.days
    dispense = as_dict(request.get("dispenseRequest"))
    # Read on while every source is wanted or none has given a duration yet (no closure:
    # compiled, a nested function is an object built on every call).
    if every_source or not (indefinite or by_source):
        supply = duration_days(catalogue, dispense.get("expectedSupplyDuration"))
        if supply is not None:
            by_source[_EXPECTED_SUPPLY] = whole_days(supply)
    if (every_source or not (indefinite or by_source)) and dosage.bounds_days is not None:
        by_source[_TIMING_BOUNDS] = whole_days(dosage.bounds_days)
    if every_source or not (indefinite or by_source):
        by_quantity = quantity_days(catalogue, dispense.get("quantity"), dosage, medication)
        if by_quantity is not None:
            by_source[_QUANTITY] = by_quantity
    unreadable = (_PERIOD_OF_USE,) if use is not None and use.unreadable else ()
    if indefinite:
        return Durations(by_source, None, _PERIOD_OF_USE, True, start, unreadable)
    for source, days in by_source.items():  # inserted in order of precedence
        return Durations(by_source, days, source, False, start, unreadable)
    return Durations(by_source, None, _NO_SOURCE, False, start, unreadable)


class DispenseSupply:
    """What a MedicationDispense handed over: from when, and for how many days (a plain
    class, as `PeriodOfUse`)."""

    def __init__(self, start: date | None, days_supply: int | None, days: int | None) -> None:
        self.start = start
        """`whenHandedOver`, else `whenPrepared`."""
        self.days_supply = days_supply
        """`daysSupply` as stated."""
        self.days = days
        """`daysSupply`, else the quantity ÷ daily use."""


def dispense_supply(
    catalogue: Catalogue, dispense: JsonDict, dosage: Regimen | None, medication: MedicationFacts
) -> DispenseSupply:
    """The supply of a dispense; `dosage` None reads `daysSupply` only."""
    start = parse_date(dispense.get("whenHandedOver")) or parse_date(dispense.get("whenPrepared"))
    supply = duration_days(catalogue, dispense.get("daysSupply"))
    days_supply = whole_days(supply) if supply is not None else None
    days = days_supply
    if days is None and dosage is not None:
        days = quantity_days(catalogue, dispense.get("quantity"), dosage, medication)
    return DispenseSupply(start, days_supply, days)


class StatementPeriod:
    """The period a MedicationStatement says the medication is (or was) used (a plain class,
    as `PeriodOfUse`)."""

    def __init__(
        self,
        start: date | None,
        end: date | None,
        ongoing: bool,
        period_of_use_unreadable: bool = False,
    ) -> None:
        self.start = start
        self.end = end
        self.ongoing = ongoing
        """Active without an end: in use up to today."""
        self.period_of_use_unreadable = period_of_use_unreadable
        """Its Nictiz period of use was there but could not be read (`PeriodOfUse.unreadable`)."""


def statement_period(
    catalogue: Catalogue, statement: JsonDict, active: bool, today: date
) -> StatementPeriod:
    """`effective[x]`, else the Nictiz period of use, else the date asserted."""
    period = as_dict(statement.get("effectivePeriod"))
    use = period_of_use(catalogue, statement)
    start = (
        parse_date(period.get("start"))
        or parse_date(statement.get("effectiveDateTime"))
        or (use.start if use else None)
        or parse_date(statement.get("dateAsserted"))
    )
    end = period_end(catalogue, start, parse_date(period.get("end"))) or (use.end if use else None)
    ongoing = end is None and active
    if ongoing:
        end = max(today, start) if start else None
    elif end is None:
        end = interval_end(start, use.days if use else None)
    return StatementPeriod(start, end, ongoing, use is not None and use.unreadable)
