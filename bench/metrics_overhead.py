"""What the metrics add to a hook call, in process (robust on a loaded machine, unlike wrk).

Run: ``.venv/bin/python bench/metrics_overhead.py [--calls 2000] [--block 100]``

1. ``hooks``: the metrics work of one call of the realistic `order-sign` request alone —
   the latency histogram, the cards of its three rules, the prefetch observer — CPU µs per
   call, median of many.
2. ``app``: the realistic request through the whole ASGI app (middleware, route, pipeline,
   audit queue) with `OPIOID_CDS_METRICS` on and off, two apps in this one process taking
   turns in blocks (`--block`), CPU ms per call (`time.process_time`), median per app.
The wrk figures in docs/performance.md are the end-to-end view (`bench/bench_wrk.py --metrics`).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson
from fastapi import FastAPI

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.db import migrate
from app.evaluation import Evaluation
from app.main import create_app
from app.metrics import ServiceMetrics
from app.settings import Settings
from bench.realistic_request import realistic_order_sign

PATH = "/cds-services/opioid-order-sign"
RULES = ["opioid-sedative-combination", "bony-musculoskeletal-pain", "chronic-use"]


def hooks_us(rounds: int) -> float:
    metrics = ServiceMetrics()
    evaluation = Evaluation(cards=[], fired_rule_ids=RULES)
    samples = []
    for _ in range(rounds):
        started = time.process_time_ns()
        for _ in range(100):
            metrics.observe_request("/cds-services/{service_id}", "opioid-order-sign", 200, 0.002)
            metrics.observe_evaluation("opioid-order-sign", evaluation)
            metrics.fetch_observer()
        samples.append((time.process_time_ns() - started) / 100 / 1000)
    return statistics.median(samples)


async def app_ms(apps: dict[str, FastAPI], calls: int, block: int) -> dict[str, float]:
    body = orjson.dumps(realistic_order_sign())
    headers = {"Content-Type": "application/json"}
    per_call: dict[str, list[float]] = {name: [] for name in apps}
    async with Lifespans(apps):
        clients = {
            name: httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://bench")
            for name, app in apps.items()
        }
        for client in clients.values():  # warm up
            for _ in range(50):
                (await client.post(PATH, content=body, headers=headers)).raise_for_status()
        for _ in range(max(calls // block, 1)):
            for name, client in clients.items():
                started = time.process_time()
                for _ in range(block):
                    response = await client.post(PATH, content=body, headers=headers)
                per_call[name].append((time.process_time() - started) / block * 1000)
                response.raise_for_status()
        for client in clients.values():
            await client.aclose()
    return {name: statistics.median(values) for name, values in per_call.items()}


class Lifespans:
    """The apps' lifespans (start-up and shutdown), entered together."""

    def __init__(self, apps: dict[str, FastAPI]) -> None:
        self.contexts = [app.router.lifespan_context(app) for app in apps.values()]

    async def __aenter__(self) -> None:
        for context in self.contexts:
            await context.__aenter__()

    async def __aexit__(self, *exc: object) -> None:
        for context in reversed(self.contexts):
            await context.__aexit__(None, None, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per app")
    parser.add_argument("--block", type=int, default=100, help="calls per turn")
    args = parser.parse_args()

    print(f"hooks: {hooks_us(200):.2f} µs CPU per call (median)")
    with tempfile.TemporaryDirectory() as tmp:
        apps: dict[str, FastAPI] = {}
        for name, on in (("metrics off", False), ("metrics on", True)):
            url = f"sqlite+aiosqlite:///{tmp}/{name.replace(' ', '-')}.sqlite3"
            migrate(url)
            settings = Settings(database_url=url, metrics=on, log_level="WARNING")
            apps[name] = create_app(settings)
        started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        results = asyncio.run(app_ms(apps, args.calls, args.block))
    print(f"app, started {started}, {args.calls} calls each in blocks of {args.block}:")
    for name, ms in results.items():
        print(f"  {name:<12} {ms:.3f} ms CPU per call (median of blocks)")
    difference = results["metrics on"] - results["metrics off"]
    print(f"  difference   {difference * 1000:+.1f} µs")


if __name__ == "__main__":
    main()
