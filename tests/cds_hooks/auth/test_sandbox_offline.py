"""The CDS Hooks sandbox against `make serve`'s own trust file, with no internet at all.

The sandbox signs its tokens with ES384 and names its key set with `jku`
(https://sandbox.cds-hooks.org/.well-known/jwks.json). The development trust file pins that
key set's public key, so the service verifies the sandbox's tokens without fetching anything.

The sandbox's private key stays out of this repository: the tests sign with a key pair made
here, against a copy of the development trust file in which only the pinned `x`/`y` are this
key's (same kid, iss and jku allowlist). A separate test checks that the committed file pins
exactly the key the sandbox publishes.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from jwt.algorithms import ECAlgorithm

from app.db import migrate
from app.main import create_app
from app.playground import load_fixture_request
from app.settings import PROJECT_ROOT, Settings
from cds_hooks.auth import load_trust_config

from .authkit import SigningKey, sign

DEVELOPMENT_TRUST_FILE = PROJECT_ROOT / "config" / "trusted-clients.development.yaml"
SANDBOX_ISS = "https://sandbox.cds-hooks.org"
SANDBOX_JKU = "https://sandbox.cds-hooks.org/.well-known/jwks.json"
SANDBOX_KID = "44823f3d-0b01-4a6c-a80e-b9d3e8a7226f"
#: The public key the sandbox publishes at SANDBOX_JKU (from the public repository
#: cds-hooks/sandbox, file build/.well-known/jwks.json).
PUBLISHED_SANDBOX_KEY = {
    "kty": "EC",
    "use": "sig",
    "crv": "P-384",
    "kid": SANDBOX_KID,
    "x": "dw_JGR8nB2I6XveNxUOl2qk699ZPLM2nYI5STSdiEl9avAkrm3CkfYMbrrjr8laB",
    "y": "Sm3mLE-n1zYNla_aiE3cb3nZsL51RbC7ysw3q8aJLxGm-hx79RPMYpITDjp7kgzy",
    "alg": "ES384",
}
#: Where `make serve` listens, and so the URL the sandbox puts in `aud`.
BASE = "http://127.0.0.1:8000"


class OutboundRefused:
    """Every outbound connection fails at once and is listed: the service must need none."""

    def __init__(self) -> None:
        self.attempts: list[str] = []

    def refuse(self, what: str) -> None:
        self.attempts.append(what)
        raise ConnectionRefusedError(f"outbound traffic is refused in this test: {what}")


@pytest.fixture
def outbound(monkeypatch: pytest.MonkeyPatch) -> OutboundRefused:
    refused = OutboundRefused()

    async def async_transport(self: object, request: httpx.Request) -> httpx.Response:
        try:
            refused.refuse(str(request.url))
        except ConnectionRefusedError as exc:
            raise httpx.ConnectError(str(exc), request=request) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def sync_transport(self: object, request: httpx.Request) -> httpx.Response:
        try:
            refused.refuse(str(request.url))
        except ConnectionRefusedError as exc:
            raise httpx.ConnectError(str(exc), request=request) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def connect(self: socket.socket, address: Any) -> None:
        refused.refuse(f"socket {address!r}")

    def connect_ex(self: socket.socket, address: Any) -> int:
        refused.refuse(f"socket {address!r}")
        return 1  # pragma: no cover

    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", async_transport)
    monkeypatch.setattr(httpx.HTTPTransport, "handle_request", sync_transport)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    return refused


@pytest.fixture(scope="module")
def stand_in_key() -> SigningKey:
    """Signs as the sandbox does (ES384, the sandbox's kid); not the sandbox's key."""
    return SigningKey(SANDBOX_KID, "ES384", ec.generate_private_key(ec.SECP384R1()))


@pytest.fixture
def trust_file(tmp_path: Path, stand_in_key: SigningKey) -> Path:
    """The development trust file with only the pinned x/y replaced by the stand-in key's."""
    document = yaml.safe_load(DEVELOPMENT_TRUST_FILE.read_text(encoding="utf-8"))
    (pinned,) = document["clients"][0]["jwks"]["keys"]
    public: dict[str, Any] = ECAlgorithm.to_jwk(stand_in_key.public, as_dict=True)
    pinned["x"], pinned["y"] = public["x"], public["y"]
    path = tmp_path / "trusted-clients.development.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture
def service(sqlite_url: str, trust_file: Path, outbound: OutboundRefused) -> Iterator[TestClient]:
    """The service as `make serve` runs it: development defaults and the trust file."""
    migrate(sqlite_url)
    settings = Settings(database_url=sqlite_url, trusted_clients=trust_file)
    assert settings.environment == "development"
    with TestClient(create_app(settings), base_url=BASE) as client:
        yield client


def sandbox_token(key: SigningKey, path: str, **header: Any) -> str:
    """A token shaped like the sandbox's: ES384, kid and jku in the header; iss, aud (the
    exact URL called), iat, exp and jti in the payload; no sub, no tenant."""
    now = int(time.time())
    payload = {
        "iss": SANDBOX_ISS,
        "aud": BASE + path,
        "iat": now,
        "exp": now + 300,
        "jti": str(uuid.uuid4()),
    }
    return sign(key, payload, **{"jku": SANDBOX_JKU, **header})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_development_trust_file_pins_the_key_the_sandbox_publishes() -> None:
    document = yaml.safe_load(DEVELOPMENT_TRUST_FILE.read_text(encoding="utf-8"))
    (client,) = document["clients"]
    assert client["iss"] == SANDBOX_ISS
    assert client["jku_allowlist"] == [SANDBOX_JKU]
    assert client["jwks"] == {"keys": [PUBLISHED_SANDBOX_KEY]}
    # Equal to the published public JWK, so it holds no private member (`d`); and it loads.
    trusted = load_trust_config(DEVELOPMENT_TRUST_FILE).client_for(SANDBOX_ISS)
    assert trusted is not None and trusted.inline_keys is not None
    assert set(trusted.inline_keys) == {SANDBOX_KID}


def test_the_sandbox_calls_discovery_and_a_hook_offline(
    service: TestClient, stand_in_key: SigningKey, outbound: OutboundRefused
) -> None:
    discovery = service.get(
        "/cds-services", headers=bearer(sandbox_token(stand_in_key, "/cds-services"))
    )
    assert discovery.status_code == 200, discovery.text
    assert "opioid-order-sign" in discovery.text

    path = "/cds-services/opioid-order-sign"
    request, _ = load_fixture_request("chronic-use-oxycodon", today=date.today())
    answer = service.post(path, json=request, headers=bearer(sandbox_token(stand_in_key, path)))
    assert answer.status_code == 200, answer.text
    assert answer.json()["cards"], "the fixture fires rules"

    feedback = f"{path}/feedback"
    card = answer.json()["cards"][0]["uuid"]
    body = {
        "feedback": [
            {"card": card, "outcome": "overridden", "outcomeTimestamp": "2026-01-01T10:00:00Z"}
        ]
    }
    stored = service.post(
        feedback, json=body, headers=bearer(sandbox_token(stand_in_key, feedback))
    )
    assert stored.status_code == 200, stored.text
    assert outbound.attempts == []


def test_an_unknown_kid_is_a_quick_401_without_a_fetch(
    service: TestClient, outbound: OutboundRefused
) -> None:
    other = SigningKey("rotated-sandbox-key", "ES384", ec.generate_private_key(ec.SECP384R1()))
    started = time.monotonic()
    response = service.get("/cds-services", headers=bearer(sandbox_token(other, "/cds-services")))
    assert response.status_code == 401
    assert time.monotonic() - started < 1.0
    assert outbound.attempts == []


def test_a_forged_token_with_the_sandbox_kid_is_refused(
    service: TestClient, outbound: OutboundRefused
) -> None:
    forger = SigningKey(SANDBOX_KID, "ES384", ec.generate_private_key(ec.SECP384R1()))
    response = service.get("/cds-services", headers=bearer(sandbox_token(forger, "/cds-services")))
    assert response.status_code == 401
    assert outbound.attempts == []


def test_a_jku_off_the_allowlist_is_refused_without_a_fetch(
    service: TestClient, stand_in_key: SigningKey, outbound: OutboundRefused
) -> None:
    token = sandbox_token(
        stand_in_key, "/cds-services", jku="https://evil.example/.well-known/jwks.json"
    )
    assert service.get("/cds-services", headers=bearer(token)).status_code == 401
    assert outbound.attempts == []
