"""The facts modules that run compiled (mypyc, see setup.py), and the guard that they never
run stale.

Python imports a compiled extension in preference to the `.py` next to it, so after an edit
the old compiled code would keep running without a word. The build records a hash of each
source it compiled (`native_sources.json`); `refuse_stale_compiled_code()` runs before the
facts package imports any of them and refuses to go on when a source no longer matches.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
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
    "rules.facts.fhir_access",
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
    spec = importlib.util.find_spec(name)
    origin = spec.origin if spec is not None else None
    return origin is not None and not origin.endswith(".py")


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
