"""One JSON log line per request (pure ASGI, so it adds next to nothing to latency)."""

from __future__ import annotations

import logging
import time

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.logging import get_logger

__all__ = ["RequestLogMiddleware"]

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
