"""An "EHR" test client that calls the service the way the CDS Hooks sandbox does.

- signs every call with an ES384 JWT: header `kid` + `jku`, claims `iss`, `aud` (the exact URL
  called), `exp` (+5 min), `iat`, `jti`; no `sub`, no `tenant` (as the sandbox);
- serves its JWK Set (public key only) on 127.0.0.1, which `jku` points at;
- builds the request: uuid `hookInstance`, `fhirServer`, optional `fhirAuthorization`, and a
  *partial* prefetch: it resolves only the keys it is asked to against the FHIR server itself
  (filling the tokens on its own, not with the service's code) and leaves the others out.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from fhir_fixtures.builders import bundle, fhir_authorization, hook_request

SANDBOX_ISSUER = "https://sandbox.cds-hooks.org"
SANDBOX_USER = "Practitioner/gp-1"
JWKS_PATH = "/.well-known/jwks.json"


@dataclass(frozen=True)
class CallResult:
    status: int
    body: Any
    seconds: float


class _JwksHandler(BaseHTTPRequestHandler):
    server: _JwksHttpServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        if self.path != JWKS_PATH:
            self.send_error(404)
            return
        body = json.dumps(self.server.jwks).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _JwksHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64
    jwks: dict[str, Any]


class EhrClient:
    """A sandbox-like CDS client with its own P-384 key and JWKS endpoint."""

    def __init__(self, issuer: str = SANDBOX_ISSUER, kid: str = "ehr-es384-1") -> None:
        self.issuer = issuer
        self.kid = kid
        self._private_key = ec.generate_private_key(ec.SECP384R1())
        public_jwk = json.loads(ECAlgorithm.to_jwk(self._private_key.public_key()))
        public_jwk.update({"kid": kid, "alg": "ES384", "use": "sig"})
        self._server = _JwksHttpServer(("127.0.0.1", 0), _JwksHandler)
        self._server.jwks = {"keys": [public_jwk]}
        self.jku = f"http://127.0.0.1:{self._server.server_address[1]}{JWKS_PATH}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        # One client for all calls, kept alive as an EHR would: building an httpx client per
        # call costs ~35 ms (TLS context), which would be timed as if it were the service's.
        self._http = httpx.Client(timeout=30.0)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._http.close()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def trust_entry(self) -> dict[str, Any]:
        """This client as an entry of the service's trusted-clients file."""
        return {"iss": self.issuer, "jku_allowlist": [self.jku]}

    # tokens

    def token(self, audience: str, *, signing_key: ec.EllipticCurvePrivateKey | None = None) -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": audience,
            "exp": now + 300,
            "iat": now,
            "jti": str(uuid.uuid4()),
        }
        headers = {"kid": self.kid, "jku": self.jku, "typ": "JWT"}
        return jwt.encode(
            claims, signing_key or self._private_key, algorithm="ES384", headers=headers
        )

    # requests

    def hook_request(
        self,
        hook: str,
        *,
        patient_id: str,
        fhir_server: str | None,
        access_token: str | None = None,
        draft_orders: list[dict[str, Any]] | None = None,
        prefetch: dict[str, Any] | None = None,
        user_id: str = SANDBOX_USER,
    ) -> dict[str, Any]:
        orders = draft_orders or []
        # draftOrders without `type`, as the sandbox sends it
        drafts: dict[str, Any] = {}
        if hook in ("order-select", "order-sign"):
            drafts["draftOrders"] = bundle(orders, type=None)
        return hook_request(
            hook,
            patient_id=patient_id,
            user_id=user_id,
            selections=[f"MedicationRequest/{order['id']}" for order in orders]
            if hook == "order-select"
            else None,
            fhir_server=fhir_server,
            authorization=fhir_authorization(access_token, "patient/*.read user/*.read")
            if access_token is not None
            else None,
            prefetch=prefetch,
            **drafts,
        )

    @staticmethod
    def prefetch_from(
        fhir_base: str,
        templates: Mapping[str, str],
        keys: list[str],
        *,
        patient_id: str,
        user_id: str = SANDBOX_USER,
        count: int | None = None,
    ) -> dict[str, Any]:
        """Resolve `keys` of `templates` against the FHIR server, as the sandbox does.

        Only these tokens are filled (the sandbox's own subset); `count` overrides `_count`
        so the EHR can hand over a first page with a `next` link. A key whose query fails is
        left out, as the spec asks of clients.
        """
        user_type, _, user_ref_id = user_id.partition("/")
        values = {
            "{{context.patientId}}": patient_id,
            "{{context.userId}}": user_id,
            "{{userPractitionerId}}": user_ref_id if user_type == "Practitioner" else None,
        }
        prefetch: dict[str, Any] = {}
        with httpx.Client(timeout=10) as client:
            for key in keys:
                query: str | None = templates[key]
                for token, value in values.items():
                    if query is not None and token in query:
                        query = query.replace(token, value) if value is not None else None
                if query is None:
                    continue
                if count is not None and "?" in query:
                    params = [p for p in query.split("?", 1)[1].split("&") if p]
                    params = [p for p in params if not p.startswith("_count=")]
                    query = query.split("?", 1)[0] + "?" + "&".join([*params, f"_count={count}"])
                response = client.get(f"{fhir_base}/{query}")
                if response.status_code == 404 and "?" not in query:
                    prefetch[key] = None  # a read with no result: known empty
                elif response.status_code == 200:
                    prefetch[key] = response.json()
        return prefetch

    def call(
        self,
        service_url: str,
        body: dict[str, Any],
        *,
        token: str | None = None,
        sign: bool = True,
        timeout: float = 30.0,
    ) -> CallResult:
        """POST the hook request with a fresh JWT (aud = the URL called); wall time measured."""
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if sign:
            headers["Authorization"] = f"Bearer {token or self.token(service_url)}"
        content = json.dumps(body)
        started = time.perf_counter()
        response = self._http.post(service_url, content=content, headers=headers, timeout=timeout)
        seconds = time.perf_counter() - started
        try:
            payload: Any = response.json()
        except ValueError:
            payload = response.text
        return CallResult(response.status_code, payload, seconds)
