"""The facts builder runs compiled (mypyc) wherever the suite runs, as it does in production."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path

import pytest

from rules import native
from rules.native import (
    COMPILED_MODULES,
    StaleCompiledCode,
    compiled_modules,
    refuse_stale_compiled_code,
    stale_compiled_modules,
)


def test_the_suite_tests_the_compiled_facts_builder() -> None:
    if os.environ.get("OPIOID_CDS_PURE_PYTHON", "") in ("1", "true", "yes"):
        pytest.skip("installed without compiling (OPIOID_CDS_PURE_PYTHON)")
    assert compiled_modules() == dict.fromkeys(COMPILED_MODULES, True)


def test_a_compiled_module_whose_source_changed_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The build records what it compiled; a source that no longer matches is refused."""
    if not any(compiled_modules().values()):
        pytest.skip("installed without compiling (OPIOID_CDS_PURE_PYTHON)")
    assert stale_compiled_modules() == []
    recorded = json.loads(native.SOURCE_HASHES_FILE.read_text())
    recorded["rules.facts.durations"] = "0" * 64  # as if durations.py was edited since
    edited = tmp_path / "native_sources.json"
    edited.write_text(json.dumps(recorded))
    monkeypatch.setattr(native, "SOURCE_HASHES_FILE", edited)
    assert stale_compiled_modules() == ["rules.facts.durations"]
    with pytest.raises(StaleCompiledCode, match=r"rules\.facts\.durations changed"):
        refuse_stale_compiled_code()
    monkeypatch.setattr(native, "SOURCE_HASHES_FILE", tmp_path / "missing.json")
    assert stale_compiled_modules() == list(COMPILED_MODULES)


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
