"""The facts builder runs compiled (mypyc) wherever the suite runs, as it does in production."""

from __future__ import annotations

import os
import time
import tomllib
from pathlib import Path

import pytest

from rules.native import COMPILED_MODULES, compiled_modules, edited_since


def test_the_suite_tests_the_compiled_facts_builder() -> None:
    if os.environ.get("OPIOID_CDS_PURE_PYTHON", "") in ("1", "true", "yes"):
        pytest.skip("installed without compiling (OPIOID_CDS_PURE_PYTHON)")
    assert compiled_modules() == dict.fromkeys(COMPILED_MODULES, True)


def test_edits_after_a_build_are_noticed() -> None:
    assert edited_since(0.0) == list(COMPILED_MODULES)
    assert edited_since(time.time() + 3600) == []


def test_setup_makefile_and_runtime_name_the_same_compiled_modules() -> None:
    """setup.py compiles them, the Makefile recompiles after an edit of them, and the guard
    above checks them: three lists that must not drift apart."""
    root = Path(__file__).resolve().parents[2]
    paths = [name.replace(".", "/") + ".py" for name in COMPILED_MODULES]
    setup_py = (root / "setup.py").read_text()
    makefile = (root / "Makefile").read_text()
    listed = setup_py.split("COMPILED_MODULES = [", 1)[1].split("]", 1)[0]
    assert [line.strip(' ",') for line in listed.strip().splitlines()] == paths
    assert f"COMPILED := {' '.join(paths)}\n" in makefile


def test_build_requirements_pin_what_the_project_pins() -> None:
    """mypyc type-checks the compiled modules in pip's build environment; its pins must be the
    project's, or the compiled build is checked against other library versions."""
    root = Path(__file__).resolve().parents[2]
    project = tomllib.loads((root / "pyproject.toml").read_text())
    pins = [
        *project["project"]["dependencies"],
        *project["project"]["optional-dependencies"]["dev"],
    ]
    for requirement in project["build-system"]["requires"]:
        if "==" in requirement:
            assert requirement in pins
