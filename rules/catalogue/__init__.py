"""Terminology catalogue: opioid substances, products, release forms, condition sets, roles.

All domain numbers and code lists live in ``data/*.csv|yaml`` with their source; this package
only loads them once into fast lookups. Public API: ``Catalogue`` and ``load_catalogue``.
"""

from __future__ import annotations

from rules.native import refuse_stale_compiled_code

# Before any compiled module (this package's `units`, the facts builder) is imported: never
# run an older compiled source.
refuse_stale_compiled_code()

from rules.catalogue._catalogue import (  # noqa: E402
    DATA_DIR,
    Catalogue,
    CatalogueError,
    fold_text,
    load_catalogue,
)
from rules.catalogue._model import (  # noqa: E402
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
from rules.catalogue._ucum import warm as warm_ucum  # noqa: E402
from rules.catalogue.units import Units  # noqa: E402

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
    "Units",
    "fold_text",
    "load_catalogue",
    "warm_ucum",
]
