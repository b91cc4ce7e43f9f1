"""Prefetch resolution when data cannot be had: no fhirServer, or one that fails (a real
misbehaving HTTP server on 127.0.0.1). Required data → PrefetchUnavailable (412); optional
data → listed as missing. Always within the deadline plus 100 ms."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import httpx
import pytest

from cds_hooks.errors import FhirServerError, PrefetchUnavailable
from cds_hooks.fhir_client import FhirClient
from cds_hooks.models import HookRequest
from cds_hooks.prefetch import resolve_prefetch
from rules.hooks import ORDER_SELECT, ORDER_SIGN
from tests.cds_hooks.prefetch.conftest import ACCESS_TOKEN
from tests.cds_hooks.prefetch.servers import MisbehavingFhirServer
from tests.sample_requests import resolver_request

pytestmark = pytest.mark.anyio

SIGN = ORDER_SIGN.prefetch
SIGN_REQUIRED = ORDER_SIGN.required_keys
SLACK = 0.1
FAILURES = ["status500", "garbage", "notfhir", "never", "drip", "redirect", "huge"]
EMPTY_HISTORY = {"resourceType": "Bundle", "type": "searchset", "entry": []}


async def _timed_resolve(
    request: HookRequest,
    templates: Mapping[str, str],
    client: FhirClient | None,
    deadline: float,
) -> tuple[Any, float]:
    """(ResolvedData or the PrefetchUnavailable raised, seconds)."""
    started = time.perf_counter()
    try:
        outcome: Any = await resolve_prefetch(request, templates, SIGN_REQUIRED, client, deadline)
    except PrefetchUnavailable as exc:
        outcome = exc
    return outcome, time.perf_counter() - started


# --- no fhirServer ---------------------------------------------------------------------------


async def test_required_data_without_a_server_is_412_naming_the_key() -> None:
    request = resolver_request(prefetch={"patient": {"resourceType": "Patient", "id": "pat-1"}})

    with pytest.raises(PrefetchUnavailable) as raised:
        await resolve_prefetch(request, SIGN, SIGN_REQUIRED, None, 2.0)

    assert raised.value.keys == ["medicationRequests"]
    assert raised.value.status_code == 412
    assert "medicationRequests" in raised.value.message
    assert "no fhirServer" in raised.value.message


async def test_a_required_operation_outcome_without_a_server_is_412() -> None:
    outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "x"}]}
    request = resolver_request(prefetch={"medicationRequests": outcome})

    with pytest.raises(PrefetchUnavailable) as raised:
        await resolve_prefetch(request, SIGN, SIGN_REQUIRED, None, 2.0)

    assert raised.value.keys == ["medicationRequests"]
    assert "OperationOutcome" in raised.value.message


async def test_optional_data_without_a_server_is_listed_as_missing() -> None:
    request = resolver_request(prefetch={"medicationRequests": EMPTY_HISTORY, "conditions": None})

    resolved = await resolve_prefetch(request, SIGN, SIGN_REQUIRED, None, 2.0)

    assert resolved.missing == frozenset(SIGN) - {"medicationRequests", "conditions"}
    assert resolved.fetched == frozenset()
    assert resolved.resources == []


async def test_nothing_required_and_nothing_given_is_not_an_error() -> None:
    request = resolver_request(hook="order-select")
    templates = ORDER_SELECT.prefetch

    resolved = await resolve_prefetch(request, templates, ORDER_SELECT.required_keys, None, 2.0)

    assert resolved.missing == frozenset(templates)


# --- a failing fhirServer --------------------------------------------------------------------


@pytest.mark.parametrize("mode", FAILURES)
async def test_a_failing_server_for_required_data_is_412_within_the_deadline(
    bad_server: MisbehavingFhirServer, http: httpx.AsyncClient, mode: str
) -> None:
    deadline = 1.0
    base = bad_server.base_url(mode)
    client = FhirClient(base, ACCESS_TOKEN, http, timeout_seconds=0.6)
    request = resolver_request(fhir_server=base, access_token=ACCESS_TOKEN)

    outcome, seconds = await _timed_resolve(request, SIGN, client, deadline)

    assert isinstance(outcome, PrefetchUnavailable)
    assert outcome.keys == ["medicationRequests"]
    assert seconds < deadline + SLACK
    assert ACCESS_TOKEN not in outcome.message
    seen = bad_server.requests()
    assert len(seen) == len(SIGN)  # every key was tried, once, in parallel
    assert {r.authorization for r in seen} == {f"Bearer {ACCESS_TOKEN}"}


@pytest.mark.parametrize("mode", FAILURES)
async def test_a_failing_server_for_optional_data_degrades_within_the_deadline(
    bad_server: MisbehavingFhirServer, http: httpx.AsyncClient, mode: str
) -> None:
    deadline = 1.0
    base = bad_server.base_url(mode)
    client = FhirClient(base, ACCESS_TOKEN, http, timeout_seconds=0.6)
    history = {
        "resourceType": "Bundle",
        "entry": [{"resource": {"resourceType": "MedicationRequest", "id": "h1"}}],
    }
    request = resolver_request(
        fhir_server=base, access_token=ACCESS_TOKEN, prefetch={"medicationRequests": history}
    )

    resolved, seconds = await _timed_resolve(request, SIGN, client, deadline)

    assert seconds < deadline + SLACK
    assert resolved.missing == frozenset(SIGN) - {"medicationRequests"}
    assert resolved.fetched == frozenset()
    assert [r["id"] for r in resolved.resources] == ["h1"]


async def test_the_deadline_cuts_off_a_server_that_never_answers(
    bad_server: MisbehavingFhirServer, http: httpx.AsyncClient
) -> None:
    deadline = 0.3
    base = bad_server.base_url("never")
    client = FhirClient(base, ACCESS_TOKEN, http, timeout_seconds=1.5)  # longer than the deadline
    request = resolver_request(fhir_server=base, access_token=ACCESS_TOKEN)

    outcome, seconds = await _timed_resolve(request, SIGN, client, deadline)

    assert isinstance(outcome, PrefetchUnavailable)
    assert deadline - 0.05 < seconds < deadline + SLACK
    assert "deadline" in outcome.message


async def test_the_client_timeout_ends_a_request_before_the_deadline(
    bad_server: MisbehavingFhirServer, http: httpx.AsyncClient
) -> None:
    base = bad_server.base_url("drip")  # answers, but a byte every 0.2 s: no read timeout fires
    client = FhirClient(base, None, http, timeout_seconds=0.4)

    started = time.perf_counter()
    with pytest.raises(FhirServerError, match="timed out"):
        await client.search("MedicationRequest?patient=pat-1")
    assert time.perf_counter() - started < 0.4 + SLACK


async def test_unanswered_medication_reads_leave_the_reference_unresolved(
    bad_server: MisbehavingFhirServer, http: httpx.AsyncClient
) -> None:
    base = bad_server.base_url("never")
    client = FhirClient(base, ACCESS_TOKEN, http, timeout_seconds=1.5)
    history = {
        "resourceType": "Bundle",
        "entry": [
            {
                "resource": {
                    "resourceType": "MedicationRequest",
                    "id": "h1",
                    "medicationReference": {"reference": "Medication/m1"},
                }
            }
        ],
    }
    request = resolver_request(
        fhir_server=base,
        access_token=ACCESS_TOKEN,
        prefetch={"medicationRequests": history},
        draft_entries=[],
    )

    resolved, seconds = await _timed_resolve(
        request, {"medicationRequests": SIGN["medicationRequests"]}, client, 0.3
    )

    assert seconds < 0.3 + SLACK
    assert resolved.unresolved_references == {"Medication/m1"}
    assert resolved.missing == frozenset()


# --- where the token may go --------------------------------------------------------------------


async def test_a_next_link_to_another_origin_is_not_followed(
    bad_server: MisbehavingFhirServer, http: httpx.AsyncClient
) -> None:
    client = FhirClient(bad_server.base_url("offsite"), ACCESS_TOKEN, http, 1.0)

    resources = await client.search("MedicationRequest?patient=pat-1")

    assert [r["id"] for r in resources] == ["p1"]
    assert [r.url for r in bad_server.requests()] == [
        "/offsite/fhir/MedicationRequest?patient=pat-1"
    ]


async def test_a_page_with_an_unreadable_entry_and_a_next_link_without_url_is_incomplete(
    bad_server: MisbehavingFhirServer, http: httpx.AsyncClient
) -> None:
    client = FhirClient(bad_server.base_url("brokenpage"), ACCESS_TOKEN, http, 1.0)

    resources = await client.search("MedicationRequest?patient=pat-1")

    assert [r["id"] for r in resources] == ["p1"]
    assert client.unreadable == {"MedicationRequest"}  # the entry without its resource
    assert client.cut_off == {"MedicationRequest"}  # the page after it, without a URL
    assert len(bad_server.requests()) == 1


async def test_a_prefetched_next_link_to_another_origin_is_not_followed(
    bad_server: MisbehavingFhirServer, http: httpx.AsyncClient
) -> None:
    base = bad_server.base_url("status500")
    page = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": {"resourceType": "MedicationRequest", "id": "p1"}}],
        "link": [{"relation": "next", "url": "https://elsewhere.example/fhir/page2"}],
    }
    request = resolver_request(
        fhir_server=base, access_token=ACCESS_TOKEN, prefetch={"medicationRequests": page}
    )
    client = FhirClient(base, ACCESS_TOKEN, http, 1.0)

    resolved = await resolve_prefetch(
        request, {"medicationRequests": SIGN["medicationRequests"]}, SIGN_REQUIRED, client, 1.0
    )

    assert [r["id"] for r in resolved.resources] == ["p1"]
    assert bad_server.requests() == []


async def test_redirects_are_not_followed(
    bad_server: MisbehavingFhirServer, http: httpx.AsyncClient
) -> None:
    client = FhirClient(bad_server.base_url("redirect"), ACCESS_TOKEN, http, 1.0)

    with pytest.raises(FhirServerError, match="HTTP 302"):
        await client.read("Patient", "pat-1")
    assert len(bad_server.requests()) == 1


async def test_no_token_means_no_authorization_header(
    bad_server: MisbehavingFhirServer, http: httpx.AsyncClient
) -> None:
    client = FhirClient(bad_server.base_url("status500"), None, http, 1.0)

    with pytest.raises(FhirServerError, match="HTTP 500"):
        await client.search("Condition?patient=pat-1")
    assert [r.authorization for r in bad_server.requests()] == [None]


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("status500", "HTTP 500"),
        ("garbage", "not JSON"),
        ("notfhir", "not a FHIR resource"),
        ("huge", "larger than the allowed size"),
    ],
)
async def test_client_errors_say_what_failed_without_token_or_query(
    bad_server: MisbehavingFhirServer, http: httpx.AsyncClient, mode: str, message: str
) -> None:
    client = FhirClient(bad_server.base_url(mode), ACCESS_TOKEN, http, 1.0)

    with pytest.raises(FhirServerError) as raised:
        await client.search("MedicationRequest?patient=secret-patient-id")

    assert message in str(raised.value)
    assert ACCESS_TOKEN not in str(raised.value)
    assert "secret-patient-id" not in str(raised.value)


async def test_an_unusable_fhir_server_url_fails_like_a_server_that_is_down(
    http: httpx.AsyncClient,
) -> None:
    client = FhirClient("not a url", ACCESS_TOKEN, http, 1.0)
    request = resolver_request(fhir_server="not a url", access_token=ACCESS_TOKEN)

    with pytest.raises(FhirServerError):
        await client.read("Patient", "pat-1")
    with pytest.raises(PrefetchUnavailable):
        await resolve_prefetch(request, SIGN, SIGN_REQUIRED, client, 1.0)


@pytest.mark.parametrize(
    "base_url",
    ["not a url", "ftp://127.0.0.1/fhir", "http://127.0.0.1:notaport/fhir", "http://[::1/fhir"],
)
async def test_an_unparseable_fhir_server_url_never_raises_outside_fhir_server_error(
    http: httpx.AsyncClient, base_url: str
) -> None:
    client = FhirClient(base_url, ACCESS_TOKEN, http, 1.0)

    with pytest.raises(FhirServerError):
        await client.search("Condition?patient=pat-1")
    assert not client.same_server(base_url + "/Patient/1")


async def test_a_next_link_that_is_not_a_url_is_not_followed(
    bad_server: MisbehavingFhirServer, http: httpx.AsyncClient
) -> None:
    client = FhirClient(bad_server.base_url("status500"), ACCESS_TOKEN, http, 1.0)
    for link in ("http://[::1/x", "http://127.0.0.1:notaport/x", "javascript:alert(1)"):
        bundle = {"resourceType": "Bundle", "link": [{"relation": "next", "url": link}]}

        assert await client.continue_search(bundle) == []
    assert bad_server.requests() == []


async def test_invalid_ids_are_not_requested(
    bad_server: MisbehavingFhirServer, http: httpx.AsyncClient
) -> None:
    client = FhirClient(bad_server.base_url("status500"), ACCESS_TOKEN, http, 1.0)

    assert await client.read("Patient", "../../admin") is None
    assert await client.read("patient", "1") is None
    assert bad_server.requests() == []


async def test_failures_are_logged_without_the_token(
    bad_server: MisbehavingFhirServer, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for mode in ("status500", "garbage", "never"):
        base = bad_server.base_url(mode)
        client = FhirClient(base, ACCESS_TOKEN, http, 0.3)
        request = resolver_request(fhir_server=base, access_token=ACCESS_TOKEN)
        await _timed_resolve(request, SIGN, client, 0.5)

    assert any(record.levelno == logging.WARNING for record in caplog.records)
    assert ACCESS_TOKEN not in caplog.text
