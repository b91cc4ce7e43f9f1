"""Bulkheads: a cap on the requests in flight to one FHIR server, so one bad server cannot
take the connections every other server's calls need.

`fhirServer` comes from each request. With one shared limit, calls to a server that never
answers held all the connections, and calls to healthy servers waited for one until their
deadline (issue 14). Each origin (scheme, host, port) now has its own cap; what waits for a
slot waits within the request's own timeout.

    limits = OriginLimits(per_origin=20)
    async with limits.slot(("https", "fhir.example.nl", 443)):
        ...  # at most 20 of these at once for that origin; other origins are not counted
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

__all__ = ["Origin", "OriginLimits"]

Origin = tuple[str, str, int]


@dataclass
class _Bulkhead:
    slots: asyncio.Semaphore
    users: int = field(default=0)
    """Requests holding or waiting for a slot: the bulkhead is dropped when none are left, so
    the origins of past requests take no memory."""


class OriginLimits:
    def __init__(self, per_origin: int) -> None:
        if per_origin < 1:
            raise ValueError("per_origin must be at least 1")
        self.per_origin = per_origin
        self._bulkheads: dict[Origin, _Bulkhead] = {}

    @asynccontextmanager
    async def slot(self, origin: Origin) -> AsyncIterator[None]:
        """Hold one of `origin`'s slots (waiting for one when all are taken)."""
        bulkhead = self._bulkheads.get(origin)
        if bulkhead is None:
            bulkhead = self._bulkheads[origin] = _Bulkhead(asyncio.Semaphore(self.per_origin))
        bulkhead.users += 1
        try:
            async with bulkhead.slots:
                yield
        finally:
            bulkhead.users -= 1
            if bulkhead.users == 0:
                del self._bulkheads[origin]
