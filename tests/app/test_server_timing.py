"""`Server-Timing` names where a CDS call's time went: the pipeline (`cds`), token checking
(`auth`), the database writes on the request path (`store`: replay store, audit, feedback),
and `total`, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from app.db import migrate
from app.main import create_app
from app.settings import Settings
from tests.cds_hooks.auth.authkit import ISSUER, SigningKey, claims, jwks, sign
from tests.sample_requests import hook_request

SERVICE = "/cds-services/opioid-order-sign"


def timings(header: str) -> dict[str, float]:
    parts: dict[str, float] = {}
    for entry in header.split(","):
        name, _, duration = entry.strip().partition(";dur=")
        parts[name] = float(duration)
    return parts


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey("timing-es384", "ES384", ec.generate_private_key(ec.SECP384R1()))


@pytest.fixture
def production(database_url: str, tmp_path: Path, key: SigningKey) -> Iterator[TestClient]:
    trust_file = tmp_path / "trusted-clients.json"
    trust_file.write_text(json.dumps({"clients": [{"iss": ISSUER, "jwks": jwks(key)}]}))
    migrate(database_url)
    settings = Settings(
        database_url=database_url,
        environment="production",
        audit_secret="a-test-audit-secret-of-some-length",
        trusted_clients=trust_file,
    )
    with TestClient(create_app(settings)) as client:
        yield client


def _post(client: TestClient, key: SigningKey, path: str, body: object) -> dict[str, float]:
    token = sign(key, claims(aud=f"http://testserver{path}"))
    started = time.perf_counter()
    response = client.post(path, json=body, headers={"Authorization": f"Bearer {token}"})
    wall_ms = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, response.text
    parts = timings(response.headers["server-timing"])
    assert parts["total"] <= wall_ms  # the server's time is part of the round trip
    return parts


def test_a_service_call_shows_authentication_and_storage(
    production: TestClient, key: SigningKey
) -> None:
    _post(production, key, SERVICE, hook_request("order-sign"))  # first-call costs
    parts = _post(production, key, SERVICE, hook_request("order-sign"))

    assert list(parts) == ["cds", "auth", "store", "total"]  # cds first, as clients read it
    # An ES384 signature check and a database INSERT + commit each take well over 0.05 ms.
    assert parts["auth"] > 0.05
    assert parts["store"] > 0.05
    assert parts["cds"] > 0.05
    # The parts do not overlap (the replay store's write is not also counted as auth).
    assert parts["cds"] + parts["auth"] + parts["store"] <= parts["total"]


def test_feedback_shows_its_write_as_storage(production: TestClient, key: SigningKey) -> None:
    feedback = {
        "feedback": [
            {
                "card": "4e0a3a1e-3283-4575-ab82-028d55fe2719",
                "outcome": "overridden",
                "outcomeTimestamp": "2026-11-22T10:00:00Z",
            }
        ]
    }

    parts = _post(production, key, f"{SERVICE}/feedback", feedback)

    assert set(parts) == {"auth", "store", "total"}
    assert parts["store"] > 0.05
    assert parts["auth"] + parts["store"] <= parts["total"]


def test_other_routes_have_no_server_timing(production: TestClient) -> None:
    assert "server-timing" not in production.get("/healthz").headers
