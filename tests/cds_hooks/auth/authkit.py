"""Helpers for the client-JWT tests: test keys, a token factory, a JWKS server's state."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from cds_hooks.auth import (
    InMemoryReplayStore,
    JwtVerifier,
    KeyResolver,
    ReplayStore,
    TrustConfig,
    TrustedClient,
)

ISSUER = "https://ehr.example.test"
OTHER_ISSUER = "https://other-ehr.example.test"
AUDIENCE = "https://cds.example.test/cds-services/opioid-order-sign"


# ------------------------------------------------------------------------------------ keys


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str
    private: Any
    declare_alg: bool = True

    @property
    def public(self) -> Any:
        return self.private.public_key()

    def jwk(self) -> dict[str, Any]:
        algorithm = ECAlgorithm if self.alg.startswith("ES") else RSAAlgorithm
        data: dict[str, Any] = algorithm.to_jwk(self.public, as_dict=True)
        data.update(kid=self.kid, use="sig")
        if self.declare_alg:
            data["alg"] = self.alg
        return data


def jwks(*keys: SigningKey) -> dict[str, Any]:
    return {"keys": [key.jwk() for key in keys]}


# ---------------------------------------------------------------------------------- tokens


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": now + 300,
        "iat": now,
        "jti": str(uuid.uuid4()),
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def sign(key: SigningKey, payload: dict[str, Any] | None = None, **header: Any) -> str:
    """A JWT signed with `key`; header entries set to None are left out."""
    headers: dict[str, Any] = {"kid": key.kid, "typ": "JWT"}
    headers.update(header)
    # PyJWT adds "typ": "JWT" itself unless told None, which it then leaves out.
    headers = {name: value for name, value in headers.items() if value is not None or name == "typ"}
    return jwt.encode(
        payload if payload is not None else claims(),
        key.private,
        algorithm=str(headers.pop("alg", key.alg)),
        headers=headers,
    )


def raw_sign(private: Any, alg: str, header: dict[str, Any], payload: dict[str, Any]) -> str:
    """Sign without PyJWT's safety checks, to build tokens PyJWT refuses to make."""
    signing_input = unsigned_parts(header, payload).encode()
    digest = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}[alg[2:]]
    if isinstance(private, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(private.sign(signing_input, ec.ECDSA(digest)))
        size = (private.curve.key_size + 7) // 8
        signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")
    else:
        signature = private.sign(signing_input, padding.PKCS1v15(), digest)
    return signing_input.decode() + "." + b64url(signature)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_parts(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(payload).encode())


# ---------------------------------------------------------------------------- JWKS server


@dataclass
class JwksServer:
    """Serves `documents[path]` as JSON; `status[path]` overrides the status code; a path in
    `hanging` is read and never answered (until `reset`); `delays[path]` seconds pass before
    a path is answered."""

    base_url: str = ""
    documents: dict[str, Any] = field(default_factory=dict)
    status: dict[str, int] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    hanging: set[str] = field(default_factory=set)
    delays: dict[str, float] = field(default_factory=dict)
    release: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return self.base_url + path

    def reset(self) -> None:
        self.documents.clear()
        self.status.clear()
        self.hits.clear()
        self.hanging.clear()
        self.delays.clear()
        self.release.set()  # let the hanging handlers go
        self.release = threading.Event()


# ------------------------------------------------------------------------------- verifier


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


class _NoNetwork(httpx.AsyncClient):
    """For verifiers whose clients all have inline keys: any fetch is a test failure."""

    async def get(self, *args: Any, **kwargs: Any) -> httpx.Response:
        raise AssertionError("this verifier must not fetch anything")


_NO_NETWORK: _NoNetwork | None = None


def no_network() -> httpx.AsyncClient:
    global _NO_NETWORK
    if _NO_NETWORK is None:  # creating an httpx client costs ~40 ms (its SSL context)
        _NO_NETWORK = _NoNetwork()
    return _NO_NETWORK


def make_verifier(
    *clients: TrustedClient,
    http: httpx.AsyncClient | None = None,
    algorithms: tuple[str, ...] = ("ES384", "RS384"),
    store: ReplayStore | None = None,
    resolver: KeyResolver | None = None,
) -> JwtVerifier:
    if resolver is None:
        resolver = KeyResolver(http if http is not None else no_network())
    return JwtVerifier(
        TrustConfig(clients=list(clients)),
        store if store is not None else InMemoryReplayStore(),
        resolver,
        algorithms=algorithms,
    )
