"""Latency of a realistic `order-sign` request against the parse-only baseline.

Starts two uvicorn servers (one worker each) on 127.0.0.1 — the service on a throw-away
SQLite database and the baseline app — sends the same request to both, and prints
client-observed and server-side (Server-Timing) p50/p95/p99 and requests/s.

    .venv/bin/python bench/bench_order_sign.py [--requests 2000] [--concurrency 8] [--block 100]
        [--compare DIR]

`--compare DIR` also runs the service from another checkout (e.g. a `git worktree` of an
older commit, with its compiled modules built there: `python setup.py build_ext --inplace`)
as a third route that takes its turns with the others. On this VM, whose speed drifts within
minutes, only such interleaved runs compare two versions fairly.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.realistic_request import realistic_order_sign
from bench.servers import ROOT, free_port, migrate


def _start(
    factory: str, port: int, env: dict[str, str], root: Path = ROOT
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            factory,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _wait_ready(port: int, path: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"server on port {port} did not start")


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _summary(client_ms: list[float], server_ms: list[float], rps: float) -> dict[str, float]:
    return {
        "client_p50": statistics.median(client_ms),
        "client_p95": _percentile(client_ms, 0.95),
        "client_p99": _percentile(client_ms, 0.99),
        "server_p50": statistics.median(server_ms),
        "server_p95": _percentile(server_ms, 0.95),
        "server_p99": _percentile(server_ms, 0.99),
        "rps": rps,
    }


async def _post(client: httpx.AsyncClient, url: str, body: bytes) -> tuple[float, float]:
    """(client ms, server ms) of one call."""
    started = time.perf_counter()
    response = await client.post(url, content=body, headers={"Content-Type": "application/json"})
    elapsed = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    return elapsed, _cds_ms(response.headers["server-timing"])


def _cds_ms(server_timing: str) -> float:
    """The `cds` entry of a Server-Timing header (`cds;dur=1.55, auth;dur=…`)."""
    first = server_timing.split(",")[0]
    return float(first.split("dur=")[1])


async def _throughput(url: str, body: bytes, requests: int, concurrency: int) -> float:
    """Requests per second with `concurrency` requests in flight."""
    queue = list(range(requests))
    async with httpx.AsyncClient(timeout=10) as client:

        async def worker() -> None:
            while queue:
                queue.pop()
                await _post(client, url, body)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return requests / (time.perf_counter() - started)


async def _measure(
    urls: dict[str, str], body: bytes, requests: int, concurrency: int, block: int
) -> dict[str, dict[str, float]]:
    """Latency one request at a time, then throughput, per route.

    The routes take turns in blocks of `block` requests: within a block a server runs warm,
    as it does for a busy practice, and a slow spell of this shared VM (its speed drifts over
    minutes) falls on both routes alike instead of on one of them."""
    client_ms: dict[str, list[float]] = {route: [] for route in urls}
    server_ms: dict[str, list[float]] = {route: [] for route in urls}
    async with httpx.AsyncClient(timeout=10) as client:
        for _ in range(50):  # warm-up of both servers and of the client's connections
            for url in urls.values():
                await _post(client, url, body)
        done = 0
        while done < requests:
            size = min(block, requests - done)
            for route, url in urls.items():
                for _ in range(size):
                    client_time, server_time = await _post(client, url, body)
                    client_ms[route].append(client_time)
                    server_ms[route].append(server_time)
            done += size
    return {
        route: _summary(
            client_ms[route],
            server_ms[route],
            await _throughput(url, body, requests, concurrency),
        )
        for route, url in urls.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--block",
        type=int,
        default=100,
        help="requests per route before the other route takes its turn (see _measure)",
    )
    parser.add_argument(
        "--compare",
        type=Path,
        metavar="DIR",
        help="also run the service from this checkout, as the route 'compare'",
    )
    args = parser.parse_args()

    body = orjson.dumps(realistic_order_sign())
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(
            os.environ,
            OPIOID_CDS_DATABASE_URL=f"sqlite+aiosqlite:///{tmp}/bench.sqlite3",
            OPIOID_CDS_LOG_LEVEL="WARNING",
        )
        migrate(env)
        service_port, baseline_port = free_port(), free_port()
        servers = [
            _start("app.main:create_app", service_port, env),
            _start("bench.baseline_app:create_baseline_app", baseline_port, env),
        ]
        try:
            compare_url: dict[str, str] = {}
            if args.compare is not None:
                compare_root = args.compare.resolve()
                compare_env = dict(
                    env,
                    OPIOID_CDS_DATABASE_URL=f"sqlite+aiosqlite:///{tmp}/compare.sqlite3",
                    PYTHONPATH=str(compare_root),
                )
                migrate(compare_env, compare_root)
                compare_port = free_port()
                servers.append(
                    _start("app.main:create_app", compare_port, compare_env, compare_root)
                )
                _wait_ready(compare_port, "/healthz")
                compare_url["compare"] = (
                    f"http://127.0.0.1:{compare_port}/cds-services/opioid-order-sign"
                )
            _wait_ready(service_port, "/healthz")
            _wait_ready(baseline_port, "/docs")
            with httpx.Client() as first_client:  # made first: it loads CA certificates
                started = time.perf_counter()
                sample = first_client.post(
                    f"http://127.0.0.1:{service_port}/cds-services/opioid-order-sign",
                    content=body,
                    headers={"Content-Type": "application/json"},
                )
                first_call_ms = (time.perf_counter() - started) * 1000
            sample.raise_for_status()
            first_server_ms = _cds_ms(sample.headers["server-timing"])
            fired = [
                c.get("source", {}).get("topic", {}).get("code") for c in sample.json()["cards"]
            ]
            results = asyncio.run(
                _measure(
                    {
                        "order-sign": f"http://127.0.0.1:{service_port}"
                        "/cds-services/opioid-order-sign",
                        **compare_url,
                        "parse-only": f"http://127.0.0.1:{baseline_port}"
                        "/cds-services/opioid-order-sign",
                    },
                    body,
                    args.requests,
                    args.concurrency,
                    args.block,
                )
            )
        finally:
            for server in servers:
                server.terminate()
                server.wait(timeout=10)

    fired_list = ", ".join(map(str, fired))
    print(f"request body: {len(body) / 1024:.1f} KiB; cards: {len(fired)} ({fired_list})")
    print(
        f"first call after start-up: {first_server_ms:.1f} ms server, {first_call_ms:.1f} ms client"
    )
    print(
        f"{args.requests} sequential requests per route for latency (in turns of {args.block}), "
        f"{args.concurrency} in flight for req/s\n"
    )
    print(
        f"{'route':<12}{'server p50':>11}{'p95':>8}{'p99':>8}{'client p50':>12}{'p95':>8}"
        f"{'p99':>8}{'req/s':>9}"
    )
    for route, r in results.items():
        print(
            f"{route:<12}{r['server_p50']:>9.2f}ms{r['server_p95']:>6.2f}ms{r['server_p99']:>6.2f}ms"
            f"{r['client_p50']:>10.2f}ms{r['client_p95']:>6.2f}ms{r['client_p99']:>6.2f}ms"
            f"{r['rps']:>9.0f}"
        )
    for route in ("order-sign", "compare"):
        if route in results:
            ratio = results[route]["client_p50"] / results["parse-only"]["client_p50"]
            print(f"\nclient p50 ratio {route} / parse-only: {ratio:.2f}x", end="")
    print()


if __name__ == "__main__":
    main()
