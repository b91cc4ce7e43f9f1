"""Every error becomes a FHIR OperationOutcome with the status of cds_hooks.errors.

Authentication failures carry no detail: the log says why, the client only learns "401".
Database errors become 503 (transient), logged by type only.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.logging import get_logger
from app.responses import JsonResponse
from cds_hooks.errors import AuthenticationFailed, CdsHooksError
from cds_hooks.failures import failure_fields

__all__ = ["install_error_handlers", "operation_outcome"]

log = get_logger(__name__)

_HTTP_ISSUE_CODES = {404: "not-found", 405: "not-supported", 413: "too-costly"}


def operation_outcome(code: str, diagnostics: str, location: str | None = None) -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": "error", "code": code, "diagnostics": diagnostics}
    if location:
        issue["expression"] = [location]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


async def _cds_hooks_error(request: Request, exc: Exception) -> JsonResponse:
    assert isinstance(exc, CdsHooksError)
    if isinstance(exc, AuthenticationFailed):
        log.warning("client authentication failed", reason=exc.message)
        state = getattr(request.app.state, "cds", None)
        if state is not None and state.metrics is not None:
            state.metrics.jwt_rejected(exc.reason)
        return JsonResponse(
            operation_outcome("security", "unauthorized"),
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    return JsonResponse(
        operation_outcome(exc.issue_code, exc.message, exc.location),
        status_code=exc.status_code,
        headers={"Retry-After": "5"} if exc.status_code == 503 else None,
    )


async def _http_error(_request: Request, exc: Exception) -> JsonResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_ISSUE_CODES.get(exc.status_code, "processing")
    return JsonResponse(
        operation_outcome(code, str(exc.detail)),
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


async def _validation_error(_request: Request, exc: Exception) -> JsonResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    location = ".".join(str(part) for part in first.get("loc", ()))
    return JsonResponse(
        operation_outcome("invalid", f"{location}: {first.get('msg')}", location or None),
        status_code=400,
    )


async def _database_error(_request: Request, exc: Exception) -> JsonResponse:
    # The message of a database error may quote the statement's parameters: no message.
    log.error("database unavailable", **failure_fields(exc))
    return JsonResponse(
        operation_outcome("transient", "the service's database is unavailable; try again"),
        status_code=503,
        headers={"Retry-After": "5"},
    )


async def _unexpected_error(_request: Request, exc: Exception) -> JsonResponse:
    # No message: that of an arbitrary exception may quote request data.
    log.error("unexpected error", **failure_fields(exc))
    return JsonResponse(
        operation_outcome("exception", "internal error; the service log has the details"),
        status_code=500,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(CdsHooksError, _cds_hooks_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(SQLAlchemyError, _database_error)
    app.add_exception_handler(Exception, _unexpected_error)
