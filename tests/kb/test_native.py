"""The facts builder runs compiled (mypyc) wherever the suite runs, as it does in production."""

from __future__ import annotations

import os
import time

import pytest

from rules.native import COMPILED_MODULES, compiled_modules, edited_since


def test_the_suite_tests_the_compiled_facts_builder() -> None:
    if os.environ.get("OPIOID_CDS_PURE_PYTHON", "") in ("1", "true", "yes"):
        pytest.skip("installed without compiling (OPIOID_CDS_PURE_PYTHON)")
    assert compiled_modules() == dict.fromkeys(COMPILED_MODULES, True)


def test_edits_after_a_build_are_noticed() -> None:
    assert edited_since(0.0) == list(COMPILED_MODULES)
    assert edited_since(time.time() + 3600) == []
