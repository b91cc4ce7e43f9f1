"""The Dockerfile: clean under hadolint, serves without migrating, refuses to guess a
database, and its .dockerignore keeps the build context to what the image is built from."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml
from docker.utils.build import exclude_paths

from app.settings import PROJECT_ROOT

HADOLINT = Path(sys.executable).parent / "hadolint"
DOCKERFILE = PROJECT_ROOT / "Dockerfile"


def _hadolint(dockerfile: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HADOLINT), "--no-color", "-"],
        input=dockerfile,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _runtime_stage() -> str:
    """The instructions of the image that runs, without its comments."""
    stage = DOCKERFILE.read_text().split("AS runtime", 1)[1]
    return "\n".join(line for line in stage.splitlines() if not line.startswith("#"))


def test_the_dockerfile_is_clean_under_hadolint() -> None:
    result = _hadolint(DOCKERFILE.read_text())
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_refuses_a_shell_form_command() -> None:
    shell_form = DOCKERFILE.read_text() + "CMD opioid-cds migrate && uvicorn app.main:app\n"

    result = _hadolint(shell_form)

    assert result.returncode == 1
    assert "DL3025" in result.stdout


def test_the_image_serves_without_migrating() -> None:
    command = _runtime_stage().split("\nCMD ", 1)[1]
    assert "uvicorn" in command
    assert "migrate" not in command


def test_the_image_names_no_database_and_the_proxies_it_believes() -> None:
    runtime = _runtime_stage()
    # Production refuses to start without OPIOID_CDS_DATABASE_URL: no SQLite default here.
    assert "OPIOID_CDS_DATABASE_URL" not in runtime
    assert re.search(r"FORWARDED_ALLOW_IPS=127\.0\.0\.1", runtime)
    assert '--forwarded-allow-ips \\"$FORWARDED_ALLOW_IPS\\"' in runtime


def test_the_image_user_is_the_one_kubernetes_runs_as() -> None:
    user = re.search(r"^USER (\d+):(\d+)$", _runtime_stage(), re.MULTILINE)
    deployment = yaml.safe_load(
        (PROJECT_ROOT / "deploy" / "kubernetes" / "base" / "deployment.yaml").read_text()
    )
    pod_security = deployment["spec"]["template"]["spec"]["securityContext"]

    assert user is not None
    assert (int(user[1]), int(user[2])) == (pod_security["runAsUser"], pod_security["runAsGroup"])


def test_the_build_context_holds_the_sources_and_nothing_of_the_workstation(
    tmp_path: Path,
) -> None:
    """Docker's own .dockerignore rules (the Docker SDK's), on a tree with what a developer's
    checkout has: a virtualenv, compiled modules, a SQLite database, caches."""
    for path in (
        "pyproject.toml", "setup.py", "README.md", "app/main.py", "cds_hooks/auth.py",
        "rules/engine.py", "rules/facts/builder.py", "fhir_fixtures/builders.py",
        ".venv/bin/python", ".git/HEAD", "var/opioid-cds.sqlite3", "tests/conftest.py",
        "rules/facts/builder.cpython-311-x86_64-linux-gnu.so",
        "app/__pycache__/main.cpython-311.pyc",
        "rules/native_sources.json", "config/trusted-clients.development.yaml",
    ):  # fmt: skip
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("")
    patterns = [
        line
        for line in (PROJECT_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    context = {path for path in exclude_paths(str(tmp_path), patterns) if "." in Path(path).name}

    assert context == {
        "pyproject.toml", "setup.py", "README.md", "app/main.py", "cds_hooks/auth.py",
        "rules/engine.py", "rules/facts/builder.py", "fhir_fixtures/builders.py",
    }  # fmt: skip
