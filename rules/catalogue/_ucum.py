"""UCUM units through ucumvert (a UCUM grammar on top of pint), reduced to the five canonical
units the facts compute with. The catalogue's own table (units.csv) is asked first: it holds the
Dutch and display spellings ("stuk", "pleister", "MG"), which UCUM does not know or reads as
something else (UCUM "ML" is a megalitre).

Parsing a unit costs about a millisecond and the registry about a second and a half to build
(docs/performance.md), so the registry is built once, in a thread started at start-up, and
every unit string is read once."""

from __future__ import annotations

import functools
import re
import threading
from typing import Any

from rules.catalogue._model import UnitInfo

# (dimension, canonical unit); the first one a parsed unit converts to wins.
_CANONICAL = (
    ("mass", "mg"),
    ("rate", "ug/h"),
    ("volume", "mL"),
    ("concentration", "mg/mL"),
    ("volume_rate", "mL/h"),
)
# A unit of annotations only ("{pill}", "{tbl}{dose}") is unity in UCUM: a count of units of
# the product. ucumvert 0.3.2 fails on it (it returns a parser token), so it is read here.
_ANNOTATION_ONLY = re.compile(r"(?:\{[^{}]*\})+")
COUNT = UnitInfo("count", "1", 1.0)
# Dose units in real use are short ("ug/h", "mg/(24.h)", "{tbl}"); a longer string is neither
# parsed (a millisecond and more each) nor cached, so a request cannot fill either with its own.
_LONGEST_UNIT = 40

_lock = threading.Lock()
_registry: Any = None
_targets: list[tuple[str, str, Any]] = []


def _ensure_registry() -> Any:
    global _registry
    with _lock:
        if _registry is None:
            from ucumvert import PintUcumRegistry  # 0.6 s to import: only when needed

            registry = PintUcumRegistry()
            _targets.extend((dim, unit, registry.from_ucum(unit)) for dim, unit in _CANONICAL)
            _registry = registry
        return _registry


def warm() -> None:
    """Start building the registry now, beside the service's start-up rather than before it
    (it takes seconds on a loaded machine); a call that needs it first waits for it."""
    threading.Thread(target=_ensure_registry, name="ucum-registry", daemon=True).start()


def ucum_unit(code: str) -> UnitInfo | None:
    """A UCUM code as (dimension, canonical unit, factor to it); None when it is not UCUM or
    not one of our dimensions (``mg/kg``, ``%``): the caller reports the dose unconvertible."""
    return None if len(code) > _LONGEST_UNIT else _parsed_unit(code)


@functools.lru_cache(maxsize=1024)
def _parsed_unit(code: str) -> UnitInfo | None:
    if _ANNOTATION_ONLY.fullmatch(code.strip()):
        return COUNT
    registry = _ensure_registry()
    with _lock:  # pint's parser caches are not made for concurrent writers
        try:
            parsed = registry.from_ucum(code)
        except Exception:  # any parser failure means "not a UCUM unit": None is reported
            return None
        for dimension, unit, target in _targets:
            if parsed.dimensionality == target.dimensionality:
                return UnitInfo(dimension, unit, float(parsed.to(target.units).magnitude))
    return None
