"""What recording the report rows costs a service call (docs/reports.md, "Cost").

Run: ``.venv/bin/python bench/report_recording.py [--rounds N]``

1. In process: `ReportRecorder.rows` (the only report work on the request path) for a few
   fixtures, median and p99 in microseconds, next to the whole evaluation of the same
   request (`evaluate_hook_request`).
2. Through HTTP (in-process ASGI, `httpx.ASGITransport`, SQLite): the median of an
   order-sign call with the recorder on and with a recorder that builds no rows, taking
   turns, so the shared box's drift hits both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import orjson

from app.db import migrate
from app.evaluation import load_evaluator
from app.main import create_app
from app.pipeline import evaluate_hook_request
from app.playground import load_fixture_request
from app.reporting.records import ReportRecorder, ReportRows
from app.services import SERVICES
from app.settings import Settings

FIXTURES = ("gp-duration-14-days", "large-history-order-sign", "common-path-oxycodon-mga-5-days")


class _NoRows(ReportRecorder):
    def rows(self, hook: str, evaluation: Any) -> ReportRows:
        return ((), ())


def _quantiles(samples: list[float]) -> str:
    samples.sort()
    p99 = samples[int(len(samples) * 0.99) - 1]
    return f"median {statistics.median(samples):7.2f}  p99 {p99:7.2f}"


async def in_process(rounds: int) -> None:
    settings = Settings()
    evaluator = load_evaluator(settings)
    recorder = ReportRecorder(evaluator.ruleset, settings.audit_secret)
    for name in FIXTURES:
        request, info = load_fixture_request(name, today=date.today())
        service = SERVICES[info.service]
        outcome = await evaluate_hook_request(
            request,
            service=service,
            evaluator=evaluator,
            fhir_client_for=lambda _request: None,
            deadline_seconds=2.0,
            language="nl",
        )
        rows, evaluations = [], []
        for _ in range(rounds):
            started = time.perf_counter()
            recorder.rows(service.hook, outcome.evaluation)
            rows.append((time.perf_counter() - started) * 1e6)
        for _ in range(max(rounds // 20, 50)):
            started = time.perf_counter()
            await evaluate_hook_request(
                request,
                service=service,
                evaluator=evaluator,
                fhir_client_for=lambda _request: None,
                deadline_seconds=2.0,
                language="nl",
            )
            evaluations.append((time.perf_counter() - started) * 1e6)
        print(f"{name:38} rows() µs: {_quantiles(rows)}   evaluation µs: {_quantiles(evaluations)}")


async def through_http(rounds: int, url: str) -> None:
    settings = Settings(database_url=url, trusted_clients=None, log_level="ERROR")
    app = create_app(settings)
    request, info = load_fixture_request("gp-duration-14-days", today=date.today())
    body = orjson.dumps(request)
    async with app.router.lifespan_context(app):
        state = app.state.cds
        recording, silent = state.recorder, _NoRows(state.evaluator.ruleset, "x" * 16)
        transport = httpx.ASGITransport(app=app)
        timings: dict[str, list[float]] = {"recording": [], "not recording": []}
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for index in range(rounds * 2):
                key = "recording" if index % 2 == 0 else "not recording"
                state.recorder = recording if key == "recording" else silent
                started = time.perf_counter()
                response = await client.post(
                    f"/cds-services/{info.service}",
                    content=body,
                    headers={"Content-Type": "application/json"},
                )
                timings[key].append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
        await state.audit.flush()
    for key, samples in timings.items():
        print(f"order-sign through ASGI, {key:14} ms: {_quantiles(samples)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    asyncio.run(in_process(args.rounds))
    url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'bench.sqlite3'}"
    migrate(url)
    asyncio.run(through_http(args.rounds, url))


if __name__ == "__main__":
    main()
