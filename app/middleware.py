"""Per request: one JSON log line, the `Server-Timing` header, and (with metrics on) the
latency histogram. Pure ASGI, so it adds next to nothing to latency."""

from __future__ import annotations

import logging
import time

import structlog
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.logging import get_logger
from app.metrics import ServiceMetrics
from app.timing import start_request

__all__ = ["RequestMiddleware"]

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
