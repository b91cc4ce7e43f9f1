"""Medication reads are bounded per hook request: a history of 1000 orders, each referring to
its own Medication, makes at most `MAX_MEDICATION_READS` reads, at most
`MEDICATION_READ_CONCURRENCY` at a time, within the deadline (a real server on 127.0.0.1 that
counts the reads in flight). References beyond the cap are unresolved and logged as a count."""

from __future__ import annotations

import asyncio
import logging
import time

import httpx
import pytest

from cds_hooks.fhir_client import FhirClient
from cds_hooks.prefetch import MAX_MEDICATION_READS, MEDICATION_READ_CONCURRENCY, resolve_prefetch
from rules.hooks import ORDER_SIGN
from tests.cds_hooks.prefetch.conftest import ACCESS_TOKEN
from tests.cds_hooks.prefetch.servers import MANY_MEDICATIONS, MisbehavingFhirServer, SeenRequest
from tests.sample_requests import draft_order, resolver_request

pytestmark = pytest.mark.anyio

SIGN_REQUIRED = ORDER_SIGN.required_keys
HISTORY = {"medicationRequests": ORDER_SIGN.prefetch["medicationRequests"]}
SLACK = 0.1
ALL_REFERENCES = frozenset(f"Medication/x{number}" for number in range(MANY_MEDICATIONS))


def _medication_reads(seen: list[SeenRequest]) -> list[str]:
    return [r.url for r in seen if "/fhir/Medication/" in r.url]


def _medication_names(resources: list[dict[str, object]]) -> set[str]:
    return {f"Medication/{r['id']}" for r in resources if r["resourceType"] == "Medication"}


async def test_a_thousand_distinct_references_answer_within_the_deadline_reading_at_most_the_cap(
    bad_server: MisbehavingFhirServer, http: httpx.AsyncClient
) -> None:
    deadline = 1.0
    base = bad_server.base_url("slowmeds")  # every Medication read takes 1 s
    client = FhirClient(base, ACCESS_TOKEN, http, timeout_seconds=1.5)
    request = resolver_request(fhir_server=base, access_token=ACCESS_TOKEN, draft_entries=[])
    tasks_before = asyncio.all_tasks()

    started = time.perf_counter()
    resolved = await resolve_prefetch(request, HISTORY, SIGN_REQUIRED, client, deadline)
    seconds = time.perf_counter() - started

    assert seconds < deadline + SLACK
    assert resolved.missing == frozenset()
    assert 0 < len(_medication_reads(bad_server.requests())) <= MAX_MEDICATION_READS
    read = _medication_names(resolved.resources)
    assert read | resolved.unresolved_references == ALL_REFERENCES
    assert asyncio.all_tasks() == tasks_before  # nothing left running after the deadline


async def test_references_beyond_the_cap_are_unresolved_and_logged_as_counts(
    bad_server: MisbehavingFhirServer, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="cds_hooks")  # httpx's own log names every URL
    base = bad_server.base_url("manymeds")
    client = FhirClient(base, ACCESS_TOKEN, http, timeout_seconds=1.5)
    draft = draft_order(medicationReference={"reference": "Medication/drafted"})
    request = resolver_request(
        fhir_server=base, access_token=ACCESS_TOKEN, draft_entries=[{"resource": draft}]
    )

    resolved = await resolve_prefetch(request, HISTORY, SIGN_REQUIRED, client, 5.0)

    reads = _medication_reads(bad_server.requests())
    assert len(reads) == len(set(reads)) == MAX_MEDICATION_READS
    read = _medication_names(resolved.resources)
    assert len(read) == MAX_MEDICATION_READS
    assert "Medication/drafted" in read  # the draft orders' Medications come first
    assert resolved.unresolved_references == ALL_REFERENCES - read
    ours = [r for r in caplog.records if r.name.startswith("cds_hooks")]
    warnings = [r.getMessage() for r in ours if r.levelno == logging.WARNING]
    beyond = len(ALL_REFERENCES) - (MAX_MEDICATION_READS - 1)
    assert any(f"{beyond} medicationReferences beyond the cap" in w for w in warnings)
    logged = "\n".join(r.getMessage() for r in ours)
    for secret in ("Medication/x", "drafted", "127.0.0.1", "pat-1", ACCESS_TOKEN):
        assert secret not in logged


@pytest.mark.parametrize(
    ("cap", "concurrency"),
    [(MAX_MEDICATION_READS, MEDICATION_READ_CONCURRENCY), (20, 3), (5, 1)],
)
async def test_at_most_the_allowed_number_of_medication_reads_are_in_flight(
    bad_server: MisbehavingFhirServer, http: httpx.AsyncClient, cap: int, concurrency: int
) -> None:
    base = bad_server.base_url("manymeds")  # every Medication read takes 0.1 s
    client = FhirClient(base, ACCESS_TOKEN, http, timeout_seconds=1.5)
    request = resolver_request(fhir_server=base, access_token=ACCESS_TOKEN, draft_entries=[])

    resolved = await resolve_prefetch(
        request,
        HISTORY,
        SIGN_REQUIRED,
        client,
        5.0,
        max_medication_reads=cap,
        medication_read_concurrency=concurrency,
    )

    assert len(_medication_reads(bad_server.requests())) == cap
    assert len(_medication_names(resolved.resources)) == cap
    assert 1 <= bad_server.max_medication_reads_in_flight("manymeds") <= concurrency
