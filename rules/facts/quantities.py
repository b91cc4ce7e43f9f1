"""FHIR Quantities and Durations in the catalogue's canonical units (mg, ug/h, mL, mg/mL, or
``1`` for a count of the product) and in days."""

from __future__ import annotations

from rules.catalogue import Catalogue, Quantity
from rules.facts.fhir_access import as_number, as_str, fields_of

__all__ = ["duration_days", "is_readable_quantity", "quantity_of"]


def quantity_of(catalogue: Catalogue, node: object) -> Quantity | None:
    """A FHIR Quantity in canonical units; a value without a unit counts as units (``1``)."""
    quantity = fields_of(node)
    value = as_number(quantity.get("value"))
    if value is None or value < 0:
        return None
    info = catalogue.units.of_quantity(as_str(quantity.get("code")), as_str(quantity.get("unit")))
    return Quantity(value * info.factor, info.canonical) if info is not None else None


def is_readable_quantity(catalogue: Catalogue, node: object) -> bool:
    """Whether `quantity_of` reads the node, without making the Quantity: the unreadable
    elements pass asks it of every dose and supply of the history."""
    quantity = fields_of(node)
    value = as_number(quantity.get("value"))
    if value is None or value < 0:
        return False
    units = catalogue.units
    return units.of_quantity(as_str(quantity.get("code")), as_str(quantity.get("unit"))) is not None


def duration_days(catalogue: Catalogue, node: object) -> float | None:
    """A FHIR Duration in days (``wk`` = 7, ``mo`` = 30, ``a`` = 365)."""
    duration = fields_of(node)
    value = as_number(duration.get("value"))
    if value is None or value < 0:
        return None
    unit = as_str(duration.get("code")) or as_str(duration.get("unit"))
    days = catalogue.units.days_per_unit(unit) if unit else None
    return value * days if days is not None else None
