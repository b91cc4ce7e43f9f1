"""Per request: one JSON log line, the `Server-Timing` header, (with metrics on) the latency
histogram, and the limit on the size of a request's headers. Pure ASGI, so it adds next to
nothing to latency."""

from __future__ import annotations

import logging
import time

import structlog
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import operation_outcome
from app.logging import get_logger
from app.metrics import ServiceMetrics
from app.responses import JsonResponse
from app.timing import start_request

__all__ = [
    "H11_MAX_INCOMPLETE_EVENT_SIZE",
    "MAX_HEADER_BYTES",
    "HeaderSizeLimit",
    "RequestMiddleware",
]

_LOGGER_NAME = "app.requests"
log = get_logger(_LOGGER_NAME)


class RequestMiddleware:
    def __init__(self, app: ASGIApp, metrics: ServiceMetrics | None = None) -> None:
        self.app = app
        self.metrics = metrics
        self._level_check = logging.getLogger(_LOGGER_NAME)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Each request runs in its own task (its own copy of the context), so clearing at the
        # start is enough: nothing bound here reaches another request.
        structlog.contextvars.clear_contextvars()
        timings = start_request()
        # When the request arrived (`request.state.arrived`): the service's deadline counts
        # from here, so time spent before a route (authentication, the body) is part of it.
        scope.setdefault("state", {})["arrived"] = timings.started
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                if timings.parts:  # the CDS routes: what the request's time went on
                    MutableHeaders(scope=message)["Server-Timing"] = timings.header()
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            seconds = time.perf_counter() - timings.started
            if self.metrics is not None:
                self._observe(scope, status, seconds)
            # At OPIOID_CDS_LOG_LEVEL=WARNING the line is skipped before any event is built.
            if self._level_check.isEnabledFor(logging.INFO):
                log.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    duration_ms=round(seconds * 1000, 2),
                )

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        assert self.metrics is not None
        # The router leaves the matched route and its path parameters in the scope.
        route = scope.get("route")
        template = getattr(route, "path", None) if route is not None else None
        service_id = scope.get("path_params", {}).get("service_id")
        self.metrics.observe_request(
            template if isinstance(template, str) else "unmatched",
            service_id if isinstance(service_id, str) else None,
            status,
            seconds,
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
