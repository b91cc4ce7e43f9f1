"""Where one request's time went, for its `Server-Timing` header.

The request middleware starts a `RequestTimings` per request (a context variable, so the
route, the authentication dependency and the stores reach it without being handed it);
code on the request path wraps its work in `part("auth")`, `part("store")`. A part that runs
inside another is taken out of the outer one, so the parts add up: token checking is `auth`,
the replay store's write within it is `store`. Outside a request (the CLI, tests calling a
store directly) `part` measures nothing.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import datetime

from cds_hooks.auth import ReplayStore

__all__ = ["RequestTimings", "TimedReplayStore", "add_part", "part", "start_request"]


class RequestTimings:
    __slots__ = ("_nested", "parts", "started")

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.parts: dict[str, float] = {}
        """Milliseconds per part, each without the parts that ran inside it."""
        self._nested = 0.0  # seconds of the parts inside the one now open

    @contextlib.contextmanager
    def part(self, name: str) -> Iterator[None]:
        outer_nested, self._nested = self._nested, 0.0
        started = time.perf_counter()
        try:
            yield
        finally:
            elapsed = time.perf_counter() - started
            own_ms = (elapsed - self._nested) * 1000
            self.parts[name] = self.parts.get(name, 0.0) + own_ms
            self._nested = outer_nested + elapsed

    def add(self, name: str, milliseconds: float) -> None:
        self.parts[name] = self.parts.get(name, 0.0) + milliseconds

    def header(self) -> str:
        """The `Server-Timing` value: `cds` first as before, then the other parts, then
        `total` (request start to response start)."""
        total_ms = (time.perf_counter() - self.started) * 1000
        names = sorted(self.parts, key=lambda name: (name != "cds", name))
        entries = [f"{name};dur={self.parts[name]:.2f}" for name in names]
        entries.append(f"total;dur={total_ms:.2f}")
        return ", ".join(entries)


_current: ContextVar[RequestTimings | None] = ContextVar("request_timings", default=None)


def start_request() -> RequestTimings:
    timings = RequestTimings()
    _current.set(timings)
    return timings


def part(name: str) -> contextlib.AbstractContextManager[None]:
    timings = _current.get()
    return contextlib.nullcontext() if timings is None else timings.part(name)


def add_part(name: str, milliseconds: float) -> None:
    """A part measured elsewhere (the pipeline's own `duration_ms`)."""
    timings = _current.get()
    if timings is not None:
        timings.add(name, milliseconds)


class TimedReplayStore:
    """A `ReplayStore` whose writes count as the request's `store` time."""

    def __init__(self, inner: ReplayStore) -> None:
        self.inner = inner

    async def remember(self, jti: str, issuer: str, expires_at: datetime) -> bool:
        with part("store"):
            return await self.inner.remember(jti, issuer, expires_at)

    async def purge_expired(self, now: datetime) -> int:
        with part("store"):
            return await self.inner.purge_expired(now)
