"""Which rule-engine modules run compiled (mypyc, see setup.py), and whether one was edited
after it was compiled.

Python imports a compiled extension in preference to the `.py` next to it, so after an edit
the old compiled code would keep running without a word. `make` compiles again after an edit
and then touches a stamp file; the test suite refuses to run on sources newer than that stamp.
"""

from __future__ import annotations

import importlib
from pathlib import Path

__all__ = ["COMPILED_MODULES", "compiled_modules", "edited_since"]

COMPILED_MODULES = ("rules.facts.fhir_access", "rules.facts.medication", "rules.facts.builder")
"""The same as in setup.py and the Makefile (tests/kb/test_native.py checks)."""

_ROOT = Path(__file__).resolve().parent.parent


def compiled_modules() -> dict[str, bool]:
    """Per module: True when the imported module is the compiled extension."""
    result: dict[str, bool] = {}
    for name in COMPILED_MODULES:
        module_file = getattr(importlib.import_module(name), "__file__", None) or ""
        result[name] = not module_file.endswith(".py")
    return result


def edited_since(timestamp: float) -> list[str]:
    """The compiled modules whose source file changed after `timestamp` (seconds since the
    epoch, e.g. the time of the last build)."""
    edited: list[str] = []
    for name in COMPILED_MODULES:
        source = _ROOT.joinpath(*name.split(".")).with_suffix(".py")
        if source.exists() and source.stat().st_mtime > timestamp:
            edited.append(name)
    return edited
