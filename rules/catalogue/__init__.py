"""Terminology catalogue: opioid substances, products, release forms, condition sets, roles.

All domain numbers and code lists live in ``data/*.csv|yaml`` with their source; this package
only loads them once into fast lookups. Public API: ``Catalogue`` and ``load_catalogue``.
"""

from __future__ import annotations

from rules.catalogue._catalogue import (
    DATA_DIR,
    Catalogue,
    CatalogueError,
    fold_text,
    load_catalogue,
)
from rules.catalogue._model import (
    AtcEntry,
    ClinicalDefinitions,
    CodeRef,
    ConditionCode,
    DoseForm,
    OmeFactor,
    Product,
    Quantity,
    ReleasePattern,
    ReleaseType,
    Substance,
    UnitInfo,
)
from rules.catalogue._ucum import warm as warm_ucum

__all__ = [
    "DATA_DIR",
    "AtcEntry",
    "Catalogue",
    "CatalogueError",
    "ClinicalDefinitions",
    "CodeRef",
    "ConditionCode",
    "DoseForm",
    "OmeFactor",
    "Product",
    "Quantity",
    "ReleasePattern",
    "ReleaseType",
    "Substance",
    "UnitInfo",
    "fold_text",
    "load_catalogue",
    "warm_ucum",
]
