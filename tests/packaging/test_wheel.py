"""A wheel built from the repository carries every fixture, and the installed service finds them.

The wheel is built as the image builds it (`pip wheel .`), but from a copy of the repository
(so the checkout gets no build/ folder) and without mypyc (`OPIOID_CDS_PURE_PYTHON=1`: the
compiled modules do not change what the wheel carries, and compiling them is slow). It is
installed into a throw-away venv of its own; that venv borrows the third-party packages from
the running one through a path file, which puts them on sys.path without running the running
venv's editable-install hook, so every module of the service comes from the wheel.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

from app.routes.playground import served_files
from rules.fixtures import FIXTURES_DIR

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_FILES = sorted(
    path.name
    for path in FIXTURES_DIR.iterdir()
    if path.name.endswith((".json", ".expect.yaml", "__init__.py"))
)
# What a checkout holds besides its sources: environments, caches, build output, compiled files.
NOT_SOURCE = (".git", ".venv", "build", "dist", "var", "node_modules", "*.egg-info", "__pycache__",
              ".*_cache", "*.so")  # fmt: skip
PIP: list[str | Path] = [sys.executable, "-m", "pip"]
# The build backend pinned by requirements-build.lock (pyproject's build-system), which the
# service's own venv does not carry; `make test` creates it.
BUILD_PYTHON = ROOT / ".venv-build" / "bin" / "python"


def _run(command: list[str | Path], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel, built as the image builds it but without mypyc."""
    work = tmp_path_factory.mktemp("wheel")
    shutil.copytree(ROOT, work / "source", ignore=shutil.ignore_patterns(*NOT_SOURCE))
    assert BUILD_PYTHON.exists(), f"{BUILD_PYTHON} is missing: `make .venv-build/.installed`"
    build: list[str | Path] = [BUILD_PYTHON, "-m", "pip", "wheel", "--no-deps",
                               "--no-build-isolation", "--wheel-dir", work / "dist"]  # fmt: skip
    _run([*build, work / "source"], cwd=work, env={**os.environ, "OPIOID_CDS_PURE_PYTHON": "1"})
    [built] = (work / "dist").glob("opioid_cds-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with the wheel installed; returns its bin/ folder."""
    venv = tmp_path_factory.mktemp("installed") / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=venv.parent)
    python = venv / "bin" / "python"
    install = [*PIP, "--python", python, "install", "--no-deps", "--no-index", "--quiet", wheel]
    _run(install, cwd=venv.parent)
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(_run([python, "-c", purelib], cwd=venv.parent).strip())
    (site / "_borrowed_dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8"
    )
    return venv / "bin"


def test_the_image_build_copies_every_package_the_wheel_ships() -> None:
    # The Dockerfile copies the sources folder by folder; a package left out builds a wheel
    # without it (the fixtures were once missing from the image that way).
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {
        pattern.rstrip("*").split(".")[0]
        for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    copied = set(re.findall(r"^COPY (\S+) \./\1$", dockerfile, flags=re.MULTILINE))
    assert "fhir_fixtures" in packages
    assert packages <= copied, f"not copied into the image build: {sorted(packages - copied)}"


@pytest.mark.packaging
def test_the_wheel_carries_every_fixture_request_and_sidecar(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        shipped = sorted(
            name.removeprefix("fhir_fixtures/")
            for name in archive.namelist()
            if name.startswith("fhir_fixtures/")
        )
    assert len(FIXTURE_FILES) > 70
    assert set(FIXTURE_FILES) <= set(shipped), sorted(set(FIXTURE_FILES) - set(shipped))


@pytest.mark.packaging
def test_the_wheel_carries_every_file_the_playground_serves(wheel: Path) -> None:
    vendor = ROOT / "app" / "playground" / "vendor"
    licences = [f"vendor/{path.name}" for path in vendor.iterdir() if "LICENSE" in path.name]
    with zipfile.ZipFile(wheel) as archive:
        shipped = {name.removeprefix("app/playground/") for name in archive.namelist()}
    wanted = {"index.html", *served_files(), *licences}
    assert len(licences) >= 3
    assert wanted <= shipped, sorted(wanted - shipped)


@pytest.mark.packaging
def test_fixtures_list_on_the_installed_wheel_lists_every_fixture(
    installed: Path, tmp_path: Path
) -> None:
    python = installed / "python"
    where = _run(
        [python, "-c", "import json, app.cli, rules.fixtures as f; "
         "print(json.dumps([app.cli.__file__, str(f.FIXTURES_DIR)]))"],
        cwd=tmp_path,
    )  # fmt: skip
    venv = installed.parent.resolve()
    for location in json.loads(where):
        assert Path(location).resolve().is_relative_to(venv), f"{location} is not the wheel's"

    listing = _run([installed / "opioid-cds", "fixtures", "list", "--format", "json"], cwd=tmp_path)
    names = sorted(fixture["name"] for fixture in json.loads(listing))
    expected = sorted(path.name.removesuffix(".json") for path in FIXTURES_DIR.glob("*.json"))
    assert names == expected

    table = _run([installed / "opioid-cds", "fixtures", "list"], cwd=tmp_path)
    assert "No fixtures found" not in table
    assert f"{len(expected)} fixtures" in table
