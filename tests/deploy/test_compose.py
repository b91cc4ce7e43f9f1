"""deploy/compose.yaml: valid for the Compose Specification (its JSON schema, as vendored by
check-jsonschema), and the promises of docs/operations.md: the migration runs once before the
replicas start, two replicas behind the proxy, health checks."""

from __future__ import annotations

import ipaddress
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.settings import PROJECT_ROOT, Settings

DEPLOY = PROJECT_ROOT / "deploy"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"


def _check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    compose: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services: dict[str, Any] = compose["services"]
    return services


def test_the_compose_file_is_valid_for_the_compose_specification() -> None:
    result = _check(DEPLOY / "compose.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_refuses_an_unknown_dependency_condition(tmp_path: Path) -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    broken = tmp_path / "compose.yaml"
    broken.write_text(text.replace("service_completed_successfully", "service_finished"))

    result = _check(broken)

    assert result.returncode == 1
    assert "service_finished" in result.stdout + result.stderr


def test_the_migration_runs_once_and_the_replicas_wait_for_it(services: dict[str, Any]) -> None:
    migrate, cds = services["migrate"], services["cds"]

    assert migrate["command"] == ["opioid-cds", "migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    assert cds["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "command" not in cds  # the image's command: serve, never migrate
    assert migrate["image"] == cds["image"]
    assert migrate["environment"] == cds["environment"]


def test_two_replicas_behind_the_proxy_with_health_checks(services: dict[str, Any]) -> None:
    cds, proxy, db = services["cds"], services["proxy"], services["db"]
    nginx = (DEPLOY / "nginx.conf").read_text()

    assert cds["deploy"]["replicas"] >= 2
    assert "/readyz" in " ".join(cds["healthcheck"]["test"])
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert proxy["depends_on"]["cds"]["condition"] == "service_healthy"
    # Only the proxy is reachable from outside, and it balances over the `cds` service.
    assert [name for name, service in services.items() if "ports" in service] == ["proxy"]
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in proxy["volumes"]
    assert re.search(r"server cds:8000 resolve", nginx)
    assert re.search(r"proxy_pass http://cds;", nginx)


def test_replicas_believe_forwarded_headers_from_the_proxy_only(services: dict[str, Any]) -> None:
    proxy_address = services["proxy"]["networks"]["backend"]["ipv4_address"]
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    subnet = compose["networks"]["backend"]["ipam"]["config"][0]["subnet"]

    assert services["cds"]["environment"]["FORWARDED_ALLOW_IPS"] == proxy_address
    assert ipaddress.ip_address(proxy_address) in ipaddress.ip_network(subnet)


def test_the_environment_names_real_settings_and_requires_the_secrets(
    services: dict[str, Any],
) -> None:
    environment: dict[str, str] = services["cds"]["environment"]
    names = [
        name.removeprefix("OPIOID_CDS_").lower()
        for name in environment
        if name.startswith("OPIOID_CDS_")
    ]

    assert [name for name in names if name not in Settings.model_fields] == []
    assert environment["OPIOID_CDS_DATABASE_URL"].startswith("postgresql+asyncpg://")
    # `${VAR:?message}`: compose refuses to start when a secret is not given.
    for name in (
        "OPIOID_CDS_AUDIT_SECRET",
        "OPIOID_CDS_REPORTS_TOKEN",
        "OPIOID_CDS_PUBLIC_BASE_URL",
    ):
        assert re.fullmatch(r"\$\{" + name + r":\?[^}]+\}", environment[name])
    assert services["cds"]["read_only"] is True
