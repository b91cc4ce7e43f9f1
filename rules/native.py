"""The modules that run compiled (mypyc, see setup.py: the facts builder and the unit
look-ups it calls), and the guard that they never run stale.

Python imports a compiled extension in preference to the `.py` next to it, so after an edit
the old compiled code would keep running without a word. The build records a hash of each
source it compiled (`native_sources.json`); `refuse_stale_compiled_code()` runs when the
catalogue package is imported, before any of them (the facts package imports the catalogue
first), and refuses to go on when a source no longer matches.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.machinery
import json
from pathlib import Path

__all__ = [
    "COMPILED_MODULES",
    "SOURCE_HASHES_FILE",
    "StaleCompiledCode",
    "compiled_modules",
    "refuse_stale_compiled_code",
    "source_hash",
    "stale_compiled_modules",
]

COMPILED_MODULES = (
    "rules.catalogue.units",
    "rules.facts.fhir_access",
    "rules.facts.quantities",
    "rules.facts.medication",
    "rules.facts.elements",
    "rules.facts.durations",
    "rules.facts.exposure",
    "rules.facts.reading",
    "rules.facts.orders",
    "rules.facts.history",
    "rules.facts.patient",
    "rules.facts.builder",
)
"""The same as in setup.py and the Makefile (tests/rules/test_native.py checks)."""

_ROOT = Path(__file__).resolve().parent.parent
SOURCE_HASHES_FILE = Path(__file__).resolve().parent / "native_sources.json"
"""Written by setup.py when it compiles: {module: sha256 of the source it compiled}."""


class StaleCompiledCode(ImportError):
    """A compiled module's source changed after it was compiled."""


def source_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _is_compiled(name: str) -> bool:
    """Whether an extension module lies beside the source (Python's import system takes it
    first). Looked up on disk, not with `find_spec`, which imports the parent package: the
    guard runs while the catalogue package is being imported."""
    stem = _ROOT.joinpath(*name.split("."))
    return any(
        stem.with_name(stem.name + suffix).exists()
        for suffix in importlib.machinery.EXTENSION_SUFFIXES
    )


def stale_compiled_modules() -> list[str]:
    """The compiled modules whose source differs from the one that was compiled."""
    compiled = [name for name in COMPILED_MODULES if _is_compiled(name)]
    if not compiled:
        return []
    try:
        recorded: dict[str, str] = json.loads(SOURCE_HASHES_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return compiled  # compiled, but nothing says from what
    stale = []
    for name in compiled:
        source = _ROOT.joinpath(*name.split(".")).with_suffix(".py")
        if source.exists() and recorded.get(name) != source_hash(source):
            stale.append(name)
    return stale


def refuse_stale_compiled_code() -> None:
    """Raise `StaleCompiledCode` when a compiled module would run an older source."""
    stale = stale_compiled_modules()
    if stale:
        raise StaleCompiledCode(
            f"{', '.join(stale)} changed after it was compiled; run `make install` to compile "
            "it again (or OPIOID_CDS_PURE_PYTHON=1 make install to run it uncompiled)"
        )


def compiled_modules() -> dict[str, bool]:
    """Per module: True when the imported module is the compiled extension."""
    result: dict[str, bool] = {}
    for name in COMPILED_MODULES:
        module_file = getattr(importlib.import_module(name), "__file__", None) or ""
        result[name] = not module_file.endswith(".py")
    return result
