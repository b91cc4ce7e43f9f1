"""Fixtures for the client-JWT tests: real keys and a real JWKS server.

Keys are generated here (P-384 for ES384, RSA-2048 for RS384, P-256 for ES256) and tokens
are signed with PyJWT; JWK Sets are served over HTTP by a `ThreadingHTTPServer` on
127.0.0.1, so the key resolver's httpx fetching, caching and refetching run over a socket.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cds_hooks.auth import TrustedClient

from .authkit import ISSUER, JwksServer, SigningKey, jwks


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def es384_key() -> SigningKey:
    return SigningKey("es384-1", "ES384", ec.generate_private_key(ec.SECP384R1()))


@pytest.fixture(scope="session")
def es384_key_2() -> SigningKey:
    return SigningKey("es384-2", "ES384", ec.generate_private_key(ec.SECP384R1()))


@pytest.fixture(scope="session")
def rs384_key() -> SigningKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    # No "alg" in the JWK, as many clients publish RSA keys: PyJWT alone would assume RS256.
    return SigningKey("rs384-1", "RS384", private, declare_alg=False)


@pytest.fixture(scope="session")
def es256_key() -> SigningKey:
    return SigningKey("es256-1", "ES256", ec.generate_private_key(ec.SECP256R1()))


@pytest.fixture(scope="session")
def attacker_key() -> SigningKey:
    return SigningKey("es384-1", "ES384", ec.generate_private_key(ec.SECP384R1()))


@pytest.fixture(scope="session")
def _jwks_server_session() -> Iterator[JwksServer]:
    state = JwksServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.hits[self.path] += 1
            if self.path in state.hanging:
                state.release.wait(30)
                return
            if self.path in state.delays:
                state.release.wait(state.delays[self.path])
            document = state.documents.get(self.path)
            code = state.status.get(self.path, 200 if document is not None else 404)
            body = json.dumps(document if document is not None else {"error": "no"}).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def jwks_server(_jwks_server_session: JwksServer) -> Iterator[JwksServer]:
    _jwks_server_session.reset()
    yield _jwks_server_session
    _jwks_server_session.reset()


@pytest.fixture
def inline_client(es384_key: SigningKey, rs384_key: SigningKey) -> TrustedClient:
    return TrustedClient(iss=ISSUER, jwks=jwks(es384_key, rs384_key))
