"""The exceptions of the CDS Hooks layer and the HTTP status each one maps to.

Every error a request can meet is one of these, so the app maps them to statuses in one
place and no input, however malformed, becomes a 500.

    CdsHooksError                 base; never raised itself
    ├── InvalidRequest            400  body is not JSON, or does not match the schema
    │   ├── HookMismatch          400  the request's hook is not the one the service serves
    │   ├── BodyTooLarge          413  the body is over the size limit
    │   └── UnsupportedEncoding   415  the body is compressed (Content-Encoding), not plain JSON
    ├── AuthenticationFailed      401  missing, malformed or untrusted client JWT (no detail sent)
    ├── UnknownService            404  no service with that id
    ├── PrefetchUnavailable       412  data a hook requires is in neither prefetch nor fhirServer
    └── ReplayCheckUnavailable    503  the replay store does not answer: a token cannot be checked

`FhirServerError` is raised by the FHIR client; prefetch resolution turns it into
`PrefetchUnavailable` for required data or degrades for optional data.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = [
    "AUTH_FAILURE_REASONS",
    "AuthFailureReason",
    "AuthenticationFailed",
    "BodyTooLarge",
    "CdsHooksError",
    "FhirServerError",
    "HookMismatch",
    "InvalidRequest",
    "PrefetchUnavailable",
    "ReplayCheckUnavailable",
    "UnknownService",
    "UnsupportedEncoding",
]


class CdsHooksError(Exception):
    """Base of all errors that become an HTTP answer."""

    status_code: int = 500
    issue_code: str = "exception"

    def __init__(self, message: str, *, location: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.location = location


class InvalidRequest(CdsHooksError):
    """The body is not JSON or does not have the shape the hook needs."""

    status_code = 400
    issue_code = "invalid"


class HookMismatch(InvalidRequest):
    """A request for one hook sent to the service that answers another."""


class BodyTooLarge(InvalidRequest):
    """The body is over the size limit: refused before it is held in memory whole."""

    status_code = 413
    issue_code = "too-costly"


class UnsupportedEncoding(InvalidRequest):
    """A compressed body (`Content-Encoding`); the service reads plain JSON only."""

    status_code = 415
    issue_code = "not-supported"


AuthFailureReason = Literal[
    "missing-token",
    "malformed",
    "algorithm",
    "untrusted-issuer",
    "key",
    "signature",
    "expired",
    "not-yet-valid",
    "audience",
    "claims",
    "tenant",
    "replay",
]
"""Why a token was refused, as a fixed code: a metric label (the message may name the issuer
or quote the token's claims, so it is for the log only)."""
AUTH_FAILURE_REASONS: tuple[AuthFailureReason, ...] = get_args(AuthFailureReason)


class AuthenticationFailed(CdsHooksError):
    """The client's JWT is missing or does not verify. The reason is logged, never sent."""

    status_code = 401
    issue_code = "security"

    def __init__(self, message: str, *, reason: AuthFailureReason) -> None:
        super().__init__(message)
        self.reason: AuthFailureReason = reason


class UnknownService(CdsHooksError):
    status_code = 404
    issue_code = "not-found"


class PrefetchUnavailable(CdsHooksError):
    """Required data is neither prefetched nor fetchable (CDS Hooks 2.0 §Prefetch: 412)."""

    status_code = 412
    issue_code = "processing"

    def __init__(self, message: str, *, keys: list[str]) -> None:
        super().__init__(message, location=", ".join(keys))
        self.keys = keys


class ReplayCheckUnavailable(CdsHooksError):
    """The replay store cannot be reached, so whether a token was used before is unknown:
    the call is refused (fail closed) rather than let a possible replay through."""

    status_code = 503
    issue_code = "transient"


class FhirServerError(Exception):
    """The client's FHIR server failed, timed out or answered something that is not FHIR."""
