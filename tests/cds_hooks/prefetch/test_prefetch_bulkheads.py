"""One hanging FHIR server cannot starve calls whose server is healthy, and every answer keeps
the deadline (red team finding, issue 14).

Before: 24 calls whose `fhirServer` never answers, sent together with 5 calls whose server is
healthy, took all 100 connections of the service's one httpx pool; the healthy calls got 412
after 2.3 s instead of 200 in 130 ms, and answers took up to 2.6 s against a 2 s deadline.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from app.db import migrate
from app.main import create_app
from app.settings import Settings
from tests.app.live_server import serving
from tests.app.recording_fhir import recording_fhir_server
from tests.cds_hooks.prefetch.ehr_client import CallResult, EhrClient
from tests.cds_hooks.prefetch.servers import SEED_FILE, MisbehavingFhirServer
from tests.sample_requests import draft_order

HANGING_CALLS = 24
HEALTHY_CALLS = 5
DEADLINE = 2.0
# Every answer within the deadline plus 100 ms. On a machine whose run queue is over twice its
# cores (other test runs), the wall clock measures the wait for a CPU, not the service: 0.5 s
# more is allowed then (measured there: answers at 2.0 to 2.45 s, healthy ones 0.9 to 2.4 s;
# on a quieter machine hanging ones at 1.84 to 2.06 s, healthy ones 0.4 to 1.3 s).
OVERLOADED = os.getloadavg()[0] > 2 * (os.cpu_count() or 1)
SLACK = 0.6 if OVERLOADED else 0.1
# Healthy calls must not wait out the hanging server's deadline.
HEALTHY_SECONDS = DEADLINE + SLACK if OVERLOADED else 1.5


@pytest.fixture(scope="module")
def service_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The service with the default deadline, without client authentication (what is tested
    is its FHIR connections, not its database of token ids)."""
    database_url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('bulkheads') / 'db.sqlite3'}"
    migrate(database_url)
    settings = Settings(database_url=database_url, log_level="WARNING")
    assert settings.prefetch_deadline_seconds == DEADLINE
    with serving(create_app(settings), log_level="warning") as base_url:
        yield f"{base_url}/cds-services/opioid-order-sign"


def _seed(*ids: str) -> list[dict[str, Any]]:
    bundle = json.loads(SEED_FILE.read_text(encoding="utf-8"))
    return [entry["resource"] for entry in bundle["entry"] if entry["resource"]["id"] in ids]


def test_a_hanging_fhir_server_does_not_starve_a_healthy_one(
    ehr: EhrClient, bad_server: MisbehavingFhirServer, service_url: str
) -> None:
    """The healthy server answers at once (the Node server takes ~0.1 s a search, one at a
    time: too slow to tell starvation from its own queue)."""
    with recording_fhir_server(_seed("pat-1", "med-oxy-10")) as healthy:
        hanging_server = bad_server.base_url("never")
        healthy_server = f"{healthy.origin}/fhir"
        results = _together(
            ehr, service_url, [hanging_server] * HANGING_CALLS + [healthy_server] * HEALTHY_CALLS
        )
    hanging, healthy_results = results[:HANGING_CALLS], results[HANGING_CALLS:]

    for result in healthy_results:
        assert result.status == 200, result.body
        assert result.body["cards"], "a short-acting oxycodone draft gets cards"
        assert result.seconds < HEALTHY_SECONDS, [r.seconds for r in healthy_results]
    for result in hanging:
        assert result.status == 412, result.body  # the required history could not be had
    slowest = max(result.seconds for result in results)
    assert slowest <= DEADLINE + SLACK, sorted(r.seconds for r in results)


# The calls are sent from a process of their own: 29 client threads in the service's process
# would take its CPU (the GIL) and slow what is measured.
_SEND_AT_ONCE = """
import json, sys, threading, time
from concurrent.futures import ThreadPoolExecutor
import httpx
url, bodies = json.load(sys.stdin)
start = threading.Barrier(len(bodies))
with httpx.Client(limits=httpx.Limits(max_connections=len(bodies))) as client:
    def call(content):
        start.wait()
        began = time.perf_counter()
        response = client.post(url, content=content, timeout=30,
                               headers={"Content-Type": "application/json"})
        return [response.status_code, response.json(), time.perf_counter() - began]
    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        json.dump(list(pool.map(call, bodies)), sys.stdout)
"""


def _together(ehr: EhrClient, url: str, fhir_servers: list[str]) -> list[CallResult]:
    """One call per FHIR server given, all sent at once; the wall time of each."""
    drafts = [draft_order("draft-1", medicationReference={"reference": "Medication/med-oxy-10"})]
    bodies = [
        json.dumps(
            ehr.hook_request(
                "order-sign",
                patient_id="pat-1",
                fhir_server=server,
                access_token="fhir-access-token-bulkheads",
                draft_orders=drafts,
            )
        )
        for server in fhir_servers
    ]
    sent = subprocess.run(
        [sys.executable, "-c", _SEND_AT_ONCE],
        input=json.dumps([url, bodies]),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return [CallResult(*result) for result in json.loads(sent.stdout)]
