"""The lock files pin what pyproject.toml asks for, and `make serve` installs no test tools.

`make lock` writes requirements.lock (the service), requirements-dev.lock (the service and
its test tools) and requirements-build.lock (mypyc's venv) from pyproject.toml; a pin changed
in pyproject.toml without `make lock` fails here rather than installing something else.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from rules.native import COMPILED_MODULES

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
TEST_TOOLS = ("pytest", "hypothesis", "mypy", "ruff", "playwright", "import-linter", "uv")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked(lock_file: str) -> dict[str, str]:
    """{package: version} of a lock file written by `uv pip compile --generate-hashes`."""
    text = (ROOT / lock_file).read_text()
    return {
        _canonical(name): version
        for name, version in re.findall(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", text, re.M)
    }


def _pins(requirements: list[str]) -> dict[str, str]:
    pins = {}
    for line in requirements:
        requirement = Requirement(line)
        exact = [spec.version for spec in requirement.specifier if spec.operator == "=="]
        if exact:
            pins[_canonical(requirement.name)] = exact[0]
    return pins


@pytest.mark.parametrize(
    ("lock_file", "requirements"),
    [
        ("requirements.lock", PROJECT["project"]["dependencies"]),
        (
            "requirements-dev.lock",
            PROJECT["project"]["dependencies"] + PROJECT["project"]["optional-dependencies"]["dev"],
        ),
        ("requirements-build.lock", PROJECT["build-system"]["requires"]),
    ],
)
def test_every_pin_of_pyproject_is_in_its_lock_file(
    lock_file: str, requirements: list[str]
) -> None:
    locked = _locked(lock_file)
    wanted = _pins(requirements)
    assert wanted, "pyproject.toml pins nothing?"
    assert {name: locked.get(name) for name in wanted} == wanted, "run `make lock`"
    unpinned = {_canonical(Requirement(line).name) for line in requirements} - set(locked)
    assert not unpinned, f"not in {lock_file}: {sorted(unpinned)}; run `make lock`"


def test_the_service_lock_holds_no_test_tools() -> None:
    assert not set(map(_canonical, TEST_TOOLS)) & set(_locked("requirements.lock"))


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_serve_installs_the_service_lock_only(tmp_path: Path) -> None:
    """What `make serve` would run on a fresh clone (`make -n`: printed, not run)."""
    for name in ("Makefile", "pyproject.toml", "setup.py", "requirements.lock",
                 "requirements-dev.lock", "requirements-build.lock"):  # fmt: skip
        shutil.copy(ROOT / name, tmp_path / name)
    for module in COMPILED_MODULES:  # the compiled sources, which the Makefile depends on
        source = Path(*module.split(".")).with_suffix(".py")
        (tmp_path / source).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / source, tmp_path / source)
    planned = subprocess.run(
        ["make", "-n", "serve"], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout

    assert "pip install --quiet --require-hashes -r requirements.lock" in planned
    assert "requirements-dev.lock" not in planned
    assert "[dev]" not in planned
    assert "-r requirements-build.lock" in planned  # mypyc, in its own venv
