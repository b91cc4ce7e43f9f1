from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.db import migrate
from app.logging import configure_logging, get_logger
from app.main import create_app
from app.settings import PROJECT_ROOT, ConfigurationError, Settings, settings_from_environment


def test_production_refuses_the_default_audit_secret() -> None:
    with pytest.raises(ValidationError, match="audit_secret"):
        Settings(environment="production")


def test_every_settings_problem_is_listed_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPIOID_CDS_ENVIRONMENT", "production")
    monkeypatch.setenv("OPIOID_CDS_PORT", "99999")
    monkeypatch.setenv("OPIOID_CDS_REPORTS_TOKEN", "short-secret")
    monkeypatch.setenv("OPIOID_CDS_CLINICAL_TIMEZONE", "Europe/Amersfoort")
    monkeypatch.delenv("OPIOID_CDS_DATABASE_URL", raising=False)

    with pytest.raises(ConfigurationError) as raised:
        settings_from_environment()

    named = [problem.split(":")[0] for problem in raised.value.problems]
    assert named == [
        "OPIOID_CDS_PORT",
        "OPIOID_CDS_DATABASE_URL",
        "OPIOID_CDS_AUDIT_SECRET",
        "OPIOID_CDS_CLINICAL_TIMEZONE",
        "OPIOID_CDS_TRUSTED_CLIENTS",
        "OPIOID_CDS_REPORTS_TOKEN",
    ]
    assert "short-secret" not in str(raised.value)  # a secret is never echoed


def _start_service(
    env: dict[str, str], *, database: bool = True
) -> subprocess.CompletedProcess[str]:
    """`uvicorn --factory app.main:create_app` as `make serve` and the image run it."""
    if database:
        env = {"OPIOID_CDS_DATABASE_URL": "sqlite+aiosqlite://", **env}
    return subprocess.run(
        [sys.executable, "-m", "uvicorn", "--factory", "app.main:create_app", "--port", "1"],
        cwd=PROJECT_ROOT,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_misconfigured_production_start_prints_one_list_and_no_traceback(
    tmp_path: Path,
) -> None:
    broken_rules = tmp_path / "rules.yaml"
    broken_rules.write_text("id: x\nrules: not-a-list\n")
    empty_trust = tmp_path / "clients.yaml"
    empty_trust.write_text("clients: []\n")

    started = _start_service(
        {
            "OPIOID_CDS_ENVIRONMENT": "production",
            "OPIOID_CDS_AUDIT_SECRET": "a-secret-of-our-own-0123",
            "OPIOID_CDS_TRUSTED_CLIENTS": str(empty_trust),
            "OPIOID_CDS_RULESET_PATH": str(broken_rules),
        }
    )

    assert started.returncode == 2
    assert "Traceback" not in started.stderr
    assert "the service cannot start with these settings:" in started.stderr
    assert f"the trust file {empty_trust} lists no clients" in started.stderr  # the trust file
    assert f"rule set: {broken_rules}" in started.stderr  # ... and the rule set, together


def test_the_readme_shows_what_a_production_start_without_settings_prints() -> None:
    """The README's example is this output, verbatim."""
    started = _start_service({"OPIOID_CDS_ENVIRONMENT": "production"}, database=False)
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    shown = readme.split("```text\nopioid-cds: the service cannot start", 1)[1].split("```")[0]
    assert started.returncode == 2
    assert started.stderr == "opioid-cds: the service cannot start" + shown


def test_production_refuses_the_default_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replicas share one PostgreSQL database; the default is a SQLite file of one process."""
    monkeypatch.setenv("OPIOID_CDS_ENVIRONMENT", "production")
    monkeypatch.setenv("OPIOID_CDS_AUDIT_SECRET", "x" * 32)
    monkeypatch.setenv(
        "OPIOID_CDS_TRUSTED_CLIENTS",
        str(PROJECT_ROOT / "config" / "trusted-clients.development.yaml"),
    )
    monkeypatch.delenv("OPIOID_CDS_DATABASE_URL", raising=False)
    with pytest.raises(
        ConfigurationError, match="OPIOID_CDS_DATABASE_URL: must be set in production"
    ):
        settings_from_environment()

    url = "postgresql+asyncpg://cds@db:5432/opioid_cds"
    monkeypatch.setenv("OPIOID_CDS_DATABASE_URL", url)
    assert Settings().database_url == url


def test_environment_variables_are_read_with_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPIOID_CDS_PORT", "8123")
    monkeypatch.setenv("OPIOID_CDS_DEFAULT_LANGUAGE", "en")

    settings = Settings()

    assert settings.port == 8123
    assert settings.default_language == "en"


def test_cors_allows_any_origin_in_development_with_the_hooks_headers(client: TestClient) -> None:
    response = client.options(
        "/cds-services",
        headers={
            "Origin": "https://sandbox.cds-hooks.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] in ("*", "https://sandbox.cds-hooks.org")
    allowed = response.headers["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed


def test_private_network_preflights_are_answered_for_allowed_origins(
    client: TestClient, sqlite_url: str
) -> None:
    """Chrome's private-network access: the hosted sandbox (a public origin) calling the
    service on 127.0.0.1 first sends a preflight that asks for the private network."""
    preflight = {
        "Origin": "https://sandbox.cds-hooks.org",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
        "Access-Control-Request-Private-Network": "true",
    }
    for path in ("/cds-services", "/cds-services/opioid-order-sign"):
        response = client.options(path, headers=preflight)
        assert response.status_code == 200, response.text
        assert response.headers["access-control-allow-private-network"] == "true"
        assert response.headers["access-control-allow-origin"] in (
            "*",
            "https://sandbox.cds-hooks.org",
        )

    migrate(sqlite_url)
    production = Settings(
        database_url=sqlite_url,
        environment="production",
        audit_secret="x" * 32,
        trusted_clients=PROJECT_ROOT / "config" / "trusted-clients.development.yaml",
        cors_origins=["https://his.example.nl"],
    )
    with TestClient(create_app(production)) as strict:
        allowed = strict.options(
            "/cds-services", headers={**preflight, "Origin": "https://his.example.nl"}
        )
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-private-network"] == "true"
        assert allowed.headers["access-control-allow-origin"] == "https://his.example.nl"
        other = strict.options("/cds-services", headers=preflight)
        assert other.status_code == 400
        assert "access-control-allow-origin" not in other.headers


def test_production_allows_no_origin_unless_configured(sqlite_url: str) -> None:
    unset = Settings(
        environment="production",
        audit_secret="x" * 32,
        database_url=sqlite_url,
        trusted_clients=PROJECT_ROOT / "config" / "trusted-clients.development.yaml",
    )
    assert unset.allowed_cors_origins == []
    configured = unset.model_copy(update={"cors_origins": ["https://his.example.nl"]})
    assert configured.allowed_cors_origins == ["https://his.example.nl"]


def test_fhir_servers_the_service_may_call(sqlite_url: str) -> None:
    development = Settings()
    assert development.may_call_fhir_server("http://127.0.0.1:8080/fhir")
    production = Settings(
        environment="production",
        audit_secret="x" * 32,
        database_url=sqlite_url,
        trusted_clients=PROJECT_ROOT / "config" / "trusted-clients.development.yaml",
    )
    assert production.may_call_fhir_server("https://his.example.nl/fhir")
    assert not production.may_call_fhir_server("http://169.254.169.254/latest")
    pinned = Settings(fhir_server_allowlist=["https://fhir.praktijk.nl/"])
    assert pinned.may_call_fhir_server("https://fhir.praktijk.nl/r4")
    assert not pinned.may_call_fhir_server("https://fhir.praktijk.nl.evil.example/r4")
    bare = Settings(fhir_server_allowlist=["https://fhir.example.nl"])
    assert bare.may_call_fhir_server("https://fhir.example.nl/fhir")
    for sneaky in (
        "https://fhir.example.nl.evil.com/fhir",
        "https://fhir.example.nl@evil.com/",
        "https://fhir.example.nl:1@169.254.169.254/",
        "http://fhir.example.nl/fhir",
        "https://fhir.example.nl:8443/fhir",
        "not a url",
    ):
        assert not bare.may_call_fhir_server(sneaky), sneaky
    based = Settings(fhir_server_allowlist=["https://his.example.nl/fhir"])
    assert based.may_call_fhir_server("https://his.example.nl/fhir/r4")
    assert not based.may_call_fhir_server("https://his.example.nl/fhir-admin")
    loopback = Settings(fhir_server_allowlist=["http://127.0.0.1:*"])
    assert loopback.may_call_fhir_server("http://127.0.0.1:39211/fhir")
    assert not loopback.may_call_fhir_server("http://127.0.0.2:39211/fhir")
    assert not loopback.may_call_fhir_server("https://127.0.0.1:39211/fhir")


class _EmptyFhirServer(BaseHTTPRequestHandler):
    """Answers every search with an empty searchset and counts the calls."""

    calls = 0

    def do_GET(self) -> None:
        type(self).calls += 1
        body = b'{"resourceType": "Bundle", "type": "searchset", "entry": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.mark.parametrize(
    ("allowlist", "status", "called"), [([], 200, True), (["https://fhir.example.nl/"], 412, False)]
)
def test_a_fhir_server_outside_the_allowlist_is_not_called(
    sqlite_url: str, allowlist: list[str], status: int, called: bool
) -> None:
    from app.db import migrate
    from app.main import create_app
    from tests.sample_requests import hook_request

    server = ThreadingHTTPServer(("127.0.0.1", 0), _EmptyFhirServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _EmptyFhirServer.calls = 0
    migrate(sqlite_url)
    settings = Settings(database_url=sqlite_url, fhir_server_allowlist=allowlist)
    request = hook_request("order-sign")
    del request["prefetch"]["medicationRequests"]  # required: must be fetched
    request["fhirServer"] = f"http://127.0.0.1:{server.server_address[1]}/fhir"
    try:
        with TestClient(create_app(settings)) as client:
            response = client.post("/cds-services/opioid-order-sign", json=request)
    finally:
        server.shutdown()

    assert response.status_code == status, response.text
    assert (_EmptyFhirServer.calls > 0) is called


@pytest.mark.parametrize(
    ("environment", "playground", "status"),
    [("development", None, 200), ("production", None, 404), ("production", True, 200)],
)
def test_the_playground_is_off_in_production_unless_enabled(
    sqlite_url: str, tmp_path: Path, environment: str, playground: bool | None, status: int
) -> None:
    from app.db import migrate
    from app.main import create_app

    trust = tmp_path / "trust.yaml"
    trust.write_text(
        "clients:\n  - iss: https://his.example.nl\n"
        "    jwks_url: https://his.example.nl/.well-known/jwks.json\n"
    )
    migrate(sqlite_url)
    settings = Settings(
        database_url=sqlite_url,
        environment=environment,
        audit_secret="x" * 32,
        trusted_clients=trust,
        playground=playground,
    )
    with TestClient(create_app(settings)) as client:
        assert client.get("/playground").status_code == status


def test_today_is_the_date_where_the_gps_are() -> None:
    """00:30 in Amsterdam is still yesterday in UTC: the rules must count from the Dutch date."""
    half_past_midnight_in_amsterdam = datetime(2026, 12, 6, 23, 30, tzinfo=UTC)
    assert Settings().clinical_today(half_past_midnight_in_amsterdam) == date(2026, 12, 7)
    in_utc = Settings(clinical_timezone="UTC")
    assert in_utc.clinical_today(half_past_midnight_in_amsterdam) == date(2026, 12, 6)


def test_an_unknown_time_zone_is_refused_at_start_up() -> None:
    with pytest.raises(ValidationError, match="not a known time zone"):
        Settings(clinical_timezone="Europe/Amersfoort")


@pytest.mark.parametrize(
    ("log_format", "is_json"), [("auto", True), ("json", True), ("console", False)]
)
def test_logs_are_json_for_a_collector_and_readable_lines_for_a_person(
    log_format: str, is_json: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    """Under pytest stdout is not a terminal, so `auto` means JSON here."""
    root = logging.getLogger()
    handlers, level = root.handlers, root.level
    try:
        configure_logging("INFO", log_format)
        get_logger("app.test").info("service started", port=8000)
    finally:
        root.handlers, root.level = handlers, level

    line = capsys.readouterr().out.strip().splitlines()[-1]
    if is_json:
        assert json.loads(line)["event"] == "service started"
    else:
        assert "service started" in line and "port=8000" in line
        with pytest.raises(json.JSONDecodeError):
            json.loads(line)
