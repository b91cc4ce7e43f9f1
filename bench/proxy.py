"""A small round-robin reverse proxy: the loopback stand-in for deploy/nginx.conf in the
failover benchmark (bench/failover.py).

It does what the nginx configuration promises: calls go to the replicas in turn; a replica
that refuses the connection is skipped (and left out for a second), so the call goes to the
next one; a call that reached a replica is never sent again, and when its answer is lost (the
replica died) the client gets a 502. Each answer names the replica in `X-Upstream`.

    BENCH_PROXY_BACKENDS=http://127.0.0.1:8001,http://127.0.0.1:8002 \\
        uvicorn --factory bench.proxy:create_proxy --port 8000
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = ["BACKENDS_VARIABLE", "create_proxy"]

BACKENDS_VARIABLE = "BENCH_PROXY_BACKENDS"
_DOWN_SECONDS = 1.0
# Hop-by-hop headers (RFC 9110 §7.6.1) and the ones httpx sets itself.
_NOT_FORWARDED = {"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"}


class _Backends:
    def __init__(self, urls: list[str]) -> None:
        self._urls = urls
        self._turn = itertools.cycle(range(len(urls)))
        self._down_until = dict.fromkeys(urls, 0.0)

    def in_order(self) -> list[str]:
        """Every replica, starting with the next in turn; those marked down last."""
        first = next(self._turn)
        ordered = self._urls[first:] + self._urls[:first]
        now = time.monotonic()
        return sorted(ordered, key=lambda url: self._down_until[url] > now)

    def mark_down(self, url: str) -> None:
        self._down_until[url] = time.monotonic() + _DOWN_SECONDS


def create_proxy() -> Starlette:
    backends = _Backends(os.environ[BACKENDS_VARIABLE].split(","))
    client = httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=200))

    async def forward(request: Request) -> Response:
        body = await request.body()
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower() not in _NOT_FORWARDED
        }
        peer = request.client.host if request.client else "unknown"
        headers["x-forwarded-for"] = peer
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        for backend in backends.in_order():
            try:
                answer = await client.request(
                    request.method, backend + path, content=body, headers=headers
                )
            except httpx.ConnectError:  # never reached the replica: the next one may answer
                backends.mark_down(backend)
                continue
            except httpx.TransportError:  # sent, answer lost: resending could store it twice
                return Response("upstream answer lost\n", status_code=502)
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in _NOT_FORWARDED}
            kept.pop("content-encoding", None)  # httpx has decoded the body
            kept["x-upstream"] = backend
            return Response(answer.content, status_code=answer.status_code, headers=kept)
        return Response("no replica answers\n", status_code=502)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await client.aclose()

    methods = ["GET", "POST", "OPTIONS"]
    return Starlette(routes=[Route("/{path:path}", forward, methods=methods)], lifespan=lifespan)
