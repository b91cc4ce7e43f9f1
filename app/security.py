"""Client authentication for every `/cds-services` route (a router-level dependency).

    router = APIRouter(prefix="/cds-services", dependencies=[Depends(verify_client)])

- production: every request needs `Authorization: Bearer <JWT>` that `JwtVerifier` accepts,
  and the service refuses to start without trusted clients;
- development with a trust file: a request without a token is let through, a token that is
  sent is verified all the same (a bad one is a 401);
- development without a trust file: no client is trusted, so a request without a token is
  let through and a token that is sent is still verified, and refused (unknown issuer);
  start-up logs a warning. `make serve` names a development trust file, so the public CDS
  Hooks sandbox works out of the box.

The audience a token must carry is the URL the client called: `public_base_url` (the
service's root as clients see it, for deployments behind a proxy) plus the path, or, without
that setting, the URL of the request as it arrived (scheme and Host header).
"""

from __future__ import annotations

import hmac
from typing import Annotated

import httpx
import structlog
from fastapi import Depends, Request

from app.settings import Settings
from app.timing import TimedReplayStore, part
from cds_hooks.auth import (
    JwtVerifier,
    KeyResolver,
    ReplayStore,
    TrustConfig,
    VerifiedClient,
    load_trust_config,
)
from cds_hooks.errors import AuthenticationFailed

__all__ = [
    "ClientDep",
    "bearer_matches",
    "build_jwt_verifier",
    "endpoint_url",
    "load_trusted_clients",
    "verify_client",
]

log = structlog.get_logger(__name__)


def load_trusted_clients(settings: Settings) -> TrustConfig:
    """The CDS clients this deployment accepts. Raises ValueError when the trust file cannot be
    read or, in production, lists no clients (the message names the file)."""
    path = settings.trusted_clients
    if path is None:  # development only: production settings require a trust file
        log.warning(
            "no trusted CDS clients (OPIOID_CDS_TRUSTED_CLIENTS is not set): requests without "
            "a token are let through, any token sent is refused"
        )
        return TrustConfig()
    trust = load_trust_config(path)
    if settings.environment == "production" and not trust.clients:
        raise ValueError(
            f"production requires client authentication: the trust file {path} lists no clients"
        )
    return trust


def build_jwt_verifier(
    settings: Settings,
    replay_store: ReplayStore,
    http_client: httpx.AsyncClient,
    trust: TrustConfig | None = None,
) -> JwtVerifier:
    """The verifier for this deployment, with `trust` as read at start-up (read now when not
    given). Raises ValueError as `load_trusted_clients` does."""
    if trust is None:
        trust = load_trusted_clients(settings)
    if settings.environment == "production" and not settings.public_base_url:
        log.warning(
            "OPIOID_CDS_PUBLIC_BASE_URL is not set: the JWT audience is taken from the request's "
            "Host header; set it to the URL clients call"
        )
    verifier = JwtVerifier(
        trust,
        TimedReplayStore(replay_store),
        KeyResolver(
            http_client,
            cache_seconds=settings.jwks_cache_seconds,
            # A call is answered within its deadline, a first fetch of a slow JWKS included.
            wait_seconds=settings.prefetch_deadline_seconds,
        ),
        algorithms=settings.jwt_algorithms,
    )
    log.info(
        "client JWT verification on",
        issuers=[client.iss for client in trust.clients],
        algorithms=list(verifier.algorithms),
        token_required=settings.environment == "production",
    )
    return verifier


def endpoint_url(request: Request, public_base_url: str | None) -> str:
    """The URL the client called, without query string: what `aud` must be."""
    # Both bases below already end with the app's root_path; the path must not repeat it.
    path = request.url.path
    root_path = request.scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        path = path[len(root_path) :]
    base = public_base_url or str(request.base_url)
    return base.rstrip("/") + path


def _bearer_token(request: Request) -> str | None:
    headers = request.headers.getlist("authorization")
    if not headers:
        return None
    if len(headers) > 1:
        # Which one a proxy or framework would pick differs; take neither.
        raise AuthenticationFailed("more than one Authorization header", reason="malformed")
    header = headers[0]
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationFailed(
            "Authorization header is not 'Bearer <token>'", reason="malformed"
        )
    return token


async def verify_client(request: Request) -> VerifiedClient | None:
    """Verify the caller's JWT; None when no token is needed and none was sent."""
    # Timed as `auth`, less the replay store's write within it, which is `store` (app.timing).
    with part("auth"):
        settings: Settings = request.app.state.settings
        verifier: JwtVerifier = request.app.state.jwt_verifier
        production = settings.environment == "production"
        token = _bearer_token(request)
        if token is None:
            if production:
                raise AuthenticationFailed("no bearer token", reason="missing-token")
            return None
        client = await verifier.verify(token, endpoint_url(request, settings.public_base_url))
    request.state.cds_client = client
    return client


def bearer_matches(request: Request, token: str) -> bool:
    """`Authorization: Bearer <token>` with this deployment's own token (of /reports, of
    /metrics; not a client JWT), compared in constant time."""
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), token.encode())


#: For routes that want the verified caller: `client: ClientDep`.
ClientDep = Annotated[VerifiedClient | None, Depends(verify_client)]
