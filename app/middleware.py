"""Pure ASGI middleware (next to nothing added to latency): one JSON log line per request, and
the limit on the size of a request's headers."""

from __future__ import annotations

import logging
import time

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import operation_outcome
from app.logging import get_logger
from app.responses import JsonResponse

__all__ = [
    "H11_MAX_INCOMPLETE_EVENT_SIZE",
    "MAX_HEADER_BYTES",
    "HeaderSizeLimit",
    "RequestLogMiddleware",
]

_LOGGER_NAME = "app.requests"
log = get_logger(_LOGGER_NAME)


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._level_check = logging.getLogger(_LOGGER_NAME)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Each request runs in its own task (its own copy of the context), so clearing at the
        # start is enough: nothing bound here reaches another request.
        structlog.contextvars.clear_contextvars()
        started = time.perf_counter()
        # When the request arrived (`request.state.arrived`): the service's deadline counts
        # from here, so time spent before a route (authentication, the body) is part of it.
        scope.setdefault("state", {})["arrived"] = started
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            # At OPIOID_CDS_LOG_LEVEL=WARNING the line is skipped before any event is built.
            if self._level_check.isEnabledFor(logging.INFO):
                log.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                )


MAX_HEADER_BYTES = 32 * 1024
"""Request line and headers together: a CDS client's JWT is about 1 KB."""
H11_MAX_INCOMPLETE_EVENT_SIZE = 128 * 1024
"""What uvicorn must buffer of a request head (`--h11-max-incomplete-event-size`; its default
is 16 KiB): above MAX_HEADER_BYTES, so that a too-large head reaches `HeaderSizeLimit` and
gets its 431. A head larger still is refused by uvicorn itself (400, plain text)."""


class HeaderSizeLimit:
    """431 with an OperationOutcome for a request whose head exceeds MAX_HEADER_BYTES."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _head_bytes(scope) > MAX_HEADER_BYTES:
            outcome = operation_outcome(
                "too-costly",
                f"the request line and headers are larger than {MAX_HEADER_BYTES} bytes",
            )
            await JsonResponse(outcome, status_code=431, headers={"Connection": "close"})(
                scope, receive, send
            )
            return
        await self.app(scope, receive, send)


def _head_bytes(scope: Scope) -> int:
    """The size of the request line and headers as sent (`name: value\\r\\n` each)."""
    size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"") + 16
    return size + sum(len(name) + len(value) + 4 for name, value in scope["headers"])
