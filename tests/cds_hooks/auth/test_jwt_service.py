"""Client authentication through the real app (`app.main.create_app`): discovery, service
calls and feedback, in production and development, with the replay store in the database
(and in Redis, where named).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import create_async_engine

from app.db import migrate
from app.main import create_app
from app.replay_store import SqlReplayStore
from app.security import build_jwt_verifier
from app.settings import ConfigurationError, Settings
from cds_hooks.auth import JwtVerifier
from tests.cds_hooks.prefetch.servers import free_port
from tests.sample_requests import hook_request

from .authkit import ISSUER, JwksServer, SigningKey, claims, jwks, sign

BASE = "http://testserver"
DISCOVERY = "/cds-services"
SERVICE = "/cds-services/opioid-order-sign"
FEEDBACK = "/cds-services/opioid-order-sign/feedback"
AUDIT_SECRET = "a-test-audit-secret-of-some-length"


def feedback_body(card: str = "4e0a3a1e-3283-4575-ab82-028d55fe2719") -> dict[str, Any]:
    return {
        "feedback": [
            {"card": card, "outcome": "overridden", "outcomeTimestamp": "2026-11-22T10:00:00Z"}
        ]
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_for(key: SigningKey, path: str, base: str = BASE, **overrides: Any) -> str:
    return sign(key, claims(aud=base + path, **overrides))


@pytest.fixture
def trust_file(tmp_path: Path, es384_key: SigningKey, rs384_key: SigningKey) -> Path:
    path = tmp_path / "trusted-clients.json"
    path.write_text(json.dumps({"clients": [{"iss": ISSUER, "jwks": jwks(es384_key, rs384_key)}]}))
    return path


def make_client(database_url: str, **settings: Any) -> Iterator[TestClient]:
    migrate(database_url)
    app = create_app(Settings(database_url=database_url, audit_secret=AUDIT_SECRET, **settings))
    with TestClient(app) as client:
        yield client


@pytest.fixture
def production(sqlite_url: str, trust_file: Path) -> Iterator[TestClient]:
    yield from make_client(sqlite_url, environment="production", trusted_clients=trust_file)


@pytest.fixture
def development(sqlite_url: str, trust_file: Path) -> Iterator[TestClient]:
    yield from make_client(sqlite_url, environment="development", trusted_clients=trust_file)


def assert_bare_401(response: httpx.Response) -> None:
    assert response.status_code == 401
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert [issue["diagnostics"] for issue in body["issue"]] == ["unauthorized"]


# ------------------------------------------------------------------------------ accepted


def test_a_slow_jwks_url_is_waited_for_within_the_hook_deadline_only(
    sqlite_url: str, tmp_path: Path, jwks_server: JwksServer, es384_key: SigningKey
) -> None:
    """The key fetch of a first call counts against the deadline: a client whose JWK Set
    comes slower than it gets its 401 in time, and its next call finds the set fetched."""
    jwks_server.documents["/slow-ehr.json"] = jwks(es384_key)
    jwks_server.delays["/slow-ehr.json"] = 1.5
    trust = tmp_path / "trusted-clients.json"
    trust.write_text(
        json.dumps({"clients": [{"iss": ISSUER, "jwks_url": jwks_server.url("/slow-ehr.json")}]})
    )
    for client in make_client(
        sqlite_url, environment="production", trusted_clients=trust, prefetch_deadline_seconds=0.5
    ):
        started = time.perf_counter()
        first = client.get(DISCOVERY, headers=bearer(token_for(es384_key, DISCOVERY)))
        assert time.perf_counter() - started < 0.5 + 0.3
        assert_bare_401(first)
        time.sleep(1.5)
        again = client.get(DISCOVERY, headers=bearer(token_for(es384_key, DISCOVERY)))
        assert again.status_code == 200
        assert jwks_server.hits["/slow-ehr.json"] == 1


def test_valid_tokens_on_every_route(production: TestClient, es384_key: SigningKey) -> None:
    response = production.get(DISCOVERY, headers=bearer(token_for(es384_key, DISCOVERY)))
    assert response.status_code == 200, response.text
    response = production.post(
        SERVICE, json=hook_request("order-sign"), headers=bearer(token_for(es384_key, SERVICE))
    )
    assert response.status_code == 200, response.text
    assert "cards" in response.json()
    response = production.post(
        FEEDBACK, json=feedback_body(), headers=bearer(token_for(es384_key, FEEDBACK))
    )
    assert response.status_code == 200, response.text


def test_rs384_is_accepted(production: TestClient, rs384_key: SigningKey) -> None:
    response = production.post(
        FEEDBACK, json=feedback_body(), headers=bearer(token_for(rs384_key, FEEDBACK))
    )
    assert response.status_code == 200, response.text


def test_public_base_url_sets_the_audience(
    sqlite_url: str, trust_file: Path, es384_key: SigningKey
) -> None:
    public = "https://cds.example.test/opioid/"
    for client in make_client(
        sqlite_url, environment="production", trusted_clients=trust_file, public_base_url=public
    ):
        behind_proxy = token_for(es384_key, FEEDBACK, base="https://cds.example.test/opioid")
        as_seen_inside = token_for(es384_key, FEEDBACK)
        ok = client.post(FEEDBACK, json=feedback_body(), headers=bearer(behind_proxy))
        assert ok.status_code == 200, ok.text
        assert_bare_401(client.post(FEEDBACK, json=feedback_body(), headers=bearer(as_seen_inside)))


# ------------------------------------------------------------------------------ refused


@pytest.mark.parametrize("path", [DISCOVERY, SERVICE, FEEDBACK])
def test_production_requires_a_token_on_every_route(production: TestClient, path: str) -> None:
    if path == DISCOVERY:
        response = production.get(path)
    elif path == SERVICE:
        response = production.post(path, json=hook_request("order-sign"))
    else:
        response = production.post(path, json=feedback_body())
    assert_bare_401(response)
    assert response.headers["www-authenticate"] == "Bearer"


def test_token_for_another_route_is_refused(production: TestClient, es384_key: SigningKey) -> None:
    discovery_token = token_for(es384_key, DISCOVERY)
    assert_bare_401(
        production.post(FEEDBACK, json=feedback_body(), headers=bearer(discovery_token))
    )


def test_trailing_slash_in_aud_is_refused(production: TestClient, es384_key: SigningKey) -> None:
    token = token_for(es384_key, FEEDBACK + "/")
    assert_bare_401(production.post(FEEDBACK, json=feedback_body(), headers=bearer(token)))


def test_replayed_token_is_refused(production: TestClient, es384_key: SigningKey) -> None:
    token = token_for(es384_key, FEEDBACK)
    first = production.post(FEEDBACK, json=feedback_body(), headers=bearer(token))
    assert first.status_code == 200
    assert_bare_401(production.post(FEEDBACK, json=feedback_body(), headers=bearer(token)))


@pytest.mark.parametrize(
    "header",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Token abc", "bearer not.a.jwt"],
)
def test_malformed_authorization_header_is_refused(production: TestClient, header: str) -> None:
    response = production.post(FEEDBACK, json=feedback_body(), headers={"Authorization": header})
    assert_bare_401(response)


def test_two_authorization_headers_are_refused(
    production: TestClient, es384_key: SigningKey
) -> None:
    """Which of two headers a proxy or framework reads differs, so neither counts: even two
    valid tokens are a 401 (the first used to win)."""
    headers = [
        ("Authorization", f"Bearer {token_for(es384_key, FEEDBACK)}"),
        ("Authorization", f"Bearer {token_for(es384_key, FEEDBACK)}"),
    ]
    assert_bare_401(production.post(FEEDBACK, json=feedback_body(), headers=headers))
    one = production.post(FEEDBACK, json=feedback_body(), headers=[headers[0]])
    assert one.status_code == 200


def test_cors_preflight_needs_no_token(production: TestClient) -> None:
    response = production.options(
        FEEDBACK,
        headers={
            "Origin": "https://sandbox.cds-hooks.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code != 401


def test_a_rejected_token_never_reaches_the_logs(
    production: TestClient,
    es384_key: SigningKey,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    token = token_for(es384_key, "/cds-services/elsewhere", jti="jti-in-the-log")
    with structlog.testing.capture_logs() as captured, caplog.at_level(logging.DEBUG):
        response = production.post(FEEDBACK, json=feedback_body(), headers=bearer(token))
    assert_bare_401(response)
    printed = capsys.readouterr()
    everything = repr(captured) + caplog.text + printed.out + printed.err
    assert "jti-in-the-log" in everything  # the rejection was logged...
    for part in token.split("."):
        assert part not in everything  # ...without the token
    assert "aud" not in response.text


# ---------------------------------------------------------------------------- development


def test_development_allows_a_request_without_a_token(development: TestClient) -> None:
    assert development.post(FEEDBACK, json=feedback_body()).status_code == 200
    assert development.get(DISCOVERY).status_code == 200


def test_development_still_verifies_a_token_that_is_sent(
    development: TestClient, es384_key: SigningKey
) -> None:
    good = token_for(es384_key, FEEDBACK)
    assert development.post(FEEDBACK, json=feedback_body(), headers=bearer(good)).status_code == 200
    expired = token_for(es384_key, FEEDBACK, iat=int(time.time()) - 900, exp=int(time.time()) - 600)
    assert_bare_401(development.post(FEEDBACK, json=feedback_body(), headers=bearer(expired)))
    assert_bare_401(development.post(FEEDBACK, json=feedback_body(), headers=bearer(good)))


def test_development_without_trust_file_still_verifies_a_token_that_is_sent(
    sqlite_url: str, es384_key: SigningKey
) -> None:
    for client in make_client(sqlite_url, environment="development", trusted_clients=None):
        assert client.post(FEEDBACK, json=feedback_body()).status_code == 200
        token = token_for(es384_key, FEEDBACK)
        assert_bare_401(client.post(FEEDBACK, json=feedback_body(), headers=bearer(token)))


# -------------------------------------------------------------------------------- start-up


async def _build(settings: Settings) -> object:
    engine = create_async_engine("sqlite+aiosqlite://")
    try:
        async with httpx.AsyncClient() as http:
            return build_jwt_verifier(settings, SqlReplayStore(engine), http)
    finally:
        await engine.dispose()


@pytest.mark.anyio
async def test_production_refuses_to_start_without_trusted_clients(
    tmp_path: Path, sqlite_url: str
) -> None:
    def production(trusted_clients: Path | None = None) -> Settings:
        return Settings(
            environment="production",
            audit_secret=AUDIT_SECRET,
            database_url=sqlite_url,
            trusted_clients=trusted_clients,
        )

    with pytest.raises(ValidationError, match="production requires client authentication"):
        production()
    empty = tmp_path / "clients.yaml"
    empty.write_text("clients: []\n")
    settings = production(empty)
    with pytest.raises(ValueError, match="lists no clients"):
        await _build(settings)
    broken = tmp_path / "clients.json"
    broken.write_text('{"clients": [{"iss": "https://x.example"}]}')
    settings = production(broken)
    with pytest.raises(ValueError, match="has no keys"):
        await _build(settings)


@pytest.mark.anyio
async def test_development_without_trust_file_trusts_no_client() -> None:
    verifier = await _build(Settings(environment="development", trusted_clients=None))
    assert isinstance(verifier, JwtVerifier)
    assert verifier.trust.clients == []


@pytest.mark.anyio
async def test_hmac_in_settings_is_refused(trust_file: Path) -> None:
    settings = Settings(trusted_clients=trust_file, jwt_algorithms=["ES384", "HS256"])
    with pytest.raises(ValueError, match="HS256"):
        await _build(settings)


def test_the_app_does_not_start_in_production_with_an_empty_trust_file(
    sqlite_url: str, tmp_path: Path
) -> None:
    empty = tmp_path / "clients.yaml"
    empty.write_text("clients: []\n")
    settings = Settings(
        database_url=sqlite_url,
        environment="production",
        audit_secret=AUDIT_SECRET,
        trusted_clients=empty,
    )
    with pytest.raises(ConfigurationError, match="lists no clients"):
        create_app(settings)


def test_the_spec_example_token_gets_401_from_the_service(sqlite_url: str, tmp_path: Path) -> None:
    from .test_jwt_vectors import SPEC_ISSUER, SPEC_JKU, SPEC_JWKS, SPEC_TOKEN

    trust = tmp_path / "spec-client.json"
    trust.write_text(
        json.dumps(
            {"clients": [{"iss": SPEC_ISSUER, "jwks": SPEC_JWKS, "jku_allowlist": [SPEC_JKU]}]}
        )
    )
    for client in make_client(
        sqlite_url,
        environment="production",
        trusted_clients=trust,
        public_base_url="https://cds.example.org",
    ):
        with structlog.testing.capture_logs() as captured:
            response = client.post(
                "/cds-services/some-service", json=hook_request(), headers=bearer(SPEC_TOKEN)
            )
        assert_bare_401(response)  # before the 404 of the unknown service: auth comes first
        reasons = [entry.get("reason", "") for entry in captured]
        assert any("ExpiredSignatureError" in reason for reason in reasons)


# ---------------------------------------------------------------------- replay store in Redis


def test_redis_replay_store_refuses_a_replay_across_replicas(
    sqlite_url: str,
    tmp_path: Path,
    trust_file: Path,
    es384_key: SigningKey,
    redis_url: str,
    redis_key_prefix: str,
) -> None:
    """Two replicas, each with a database of its own: only Redis can tell them apart."""
    other_database = f"sqlite+aiosqlite:///{tmp_path / 'replica-b.sqlite3'}"
    options: dict[str, Any] = {
        "environment": "production",
        "trusted_clients": trust_file,
        "redis_url": redis_url,
        "redis_key_prefix": redis_key_prefix,
    }
    token = token_for(es384_key, SERVICE)
    for replica_a in make_client(sqlite_url, **options):
        for replica_b in make_client(other_database, **options):
            first = replica_a.post(SERVICE, json=hook_request("order-sign"), headers=bearer(token))
            assert first.status_code == 200, first.text
            again = replica_b.post(SERVICE, json=hook_request("order-sign"), headers=bearer(token))
            assert_bare_401(again)
            assert replica_b.get("/readyz").json()["replay_store"] == "ok"


def test_unreachable_redis_gives_503_and_logs_no_token(
    sqlite_url: str,
    trust_file: Path,
    es384_key: SigningKey,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    for client in make_client(
        sqlite_url, environment="production", trusted_clients=trust_file, redis_url=nowhere
    ):
        token = token_for(es384_key, SERVICE)
        with structlog.testing.capture_logs() as captured, caplog.at_level(logging.DEBUG):
            response = client.post(SERVICE, json=hook_request("order-sign"), headers=bearer(token))
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        body = response.json()
        assert body["resourceType"] == "OperationOutcome"
        assert body["issue"][0]["code"] == "transient"
        assert "replay store" in body["issue"][0]["diagnostics"]
        readiness = client.get("/readyz")
        assert readiness.status_code == 503
        assert readiness.json()["replay_store"] == "unreachable"
    printed = capsys.readouterr()
    everything = repr(captured) + caplog.text + printed.out + printed.err
    assert "replay store unreachable" in everything
    for part in token.split("."):
        assert part not in everything
