"""Prefetch resolution against a real FHIR server (the Node in-memory server on loopback)."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import httpx
import pytest

from cds_hooks.fhir_client import FhirClient
from cds_hooks.prefetch import render_template, resolve_prefetch
from rules.hooks import ORDER_SIGN
from tests.cds_hooks.prefetch.conftest import ACCESS_TOKEN, MANY_ORDERS, MANY_PATIENT
from tests.cds_hooks.prefetch.servers import NodeFhirServer
from tests.sample_requests import draft_order, resolver_request

pytestmark = [pytest.mark.fhirserver, pytest.mark.anyio]

SIGN = ORDER_SIGN.prefetch
SIGN_REQUIRED = ORDER_SIGN.required_keys
HISTORY = {"medicationRequests": SIGN["medicationRequests"]}
DEADLINE = 5.0  # not a timing test: generous, the Node server scans every resource per search
BEARER = f"Bearer {ACCESS_TOKEN}"


def _client(fhir: NodeFhirServer, http: httpx.AsyncClient, **options: Any) -> FhirClient:
    return FhirClient(fhir.base_url, ACCESS_TOKEN, http, 1.5, **options)


def _types(resources: list[dict[str, Any]]) -> Counter[str]:
    return Counter(resource["resourceType"] for resource in resources)


def _ids(resources: list[dict[str, Any]], resource_type: str) -> set[str]:
    return {r["id"] for r in resources if r["resourceType"] == resource_type}


async def test_every_missing_key_is_fetched_once_with_the_token(
    fhir: NodeFhirServer, http: httpx.AsyncClient
) -> None:
    request = resolver_request(fhir_server=fhir.base_url, access_token=ACCESS_TOKEN)

    resolved = await resolve_prefetch(request, SIGN, SIGN_REQUIRED, _client(fhir, http), DEADLINE)

    assert resolved.fetched == frozenset(SIGN)
    assert resolved.missing == frozenset()
    seen = fhir.requests()
    searches = sorted(r.url for r in seen if not r.url.startswith("Medication/"))
    expected = sorted(render_template(t, request.context) or "" for t in SIGN.values())
    assert searches == expected
    assert {r.authorization for r in seen} == {BEARER}
    assert _types(resolved.resources) == {
        "Patient": 1,
        "MedicationRequest": 4,
        "MedicationDispense": 1,
        "MedicationStatement": 1,
        "Condition": 1,
        "Encounter": 1,
        "Observation": 1,
        "Procedure": 1,
        "PractitionerRole": 1,
        "Medication": 2,  # read for hist-1/disp-1 and hist-2; hist-4's is contained
    }


async def test_partial_prefetch_fetches_only_what_is_absent(
    fhir: NodeFhirServer, http: httpx.AsyncClient
) -> None:
    prefetch = {
        "patient": {"resourceType": "Patient", "id": "pat-1", "birthDate": "1961-03-14"},
        "medicationRequests": {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [{"resource": draft_order("hist-x", medicationCodeableConcept={"text": "x"})}],
        },
        "conditions": None,  # known empty
        "observations": {"resourceType": "Bundle", "type": "searchset", "total": 0},
    }
    request = resolver_request(
        fhir_server=fhir.base_url, access_token=ACCESS_TOKEN, prefetch=prefetch
    )

    resolved = await resolve_prefetch(request, SIGN, SIGN_REQUIRED, _client(fhir, http), DEADLINE)

    assert resolved.fetched == frozenset(SIGN) - frozenset(prefetch)
    assert resolved.missing == frozenset()
    fetched_types = {r.url.split("?")[0] for r in fhir.requests()}
    assert fetched_types == {
        "MedicationDispense",
        "MedicationStatement",
        "Encounter",
        "Procedure",
        "PractitionerRole",
        "Medication/med-oxy-10",  # the fetched dispense refers to it
    }
    assert _ids(resolved.resources, "MedicationRequest") == {"hist-x"}
    assert "Condition" not in _types(resolved.resources)


@pytest.mark.parametrize(
    "failed_value",
    [
        {
            "resourceType": "OperationOutcome",
            "issue": [
                {"severity": "error", "code": "timeout", "diagnostics": "EHR query timed out"}
            ],
        },
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [
                {
                    "resource": {
                        "resourceType": "OperationOutcome",
                        "issue": [{"severity": "fatal", "code": "exception"}],
                    },
                    "search": {"mode": "outcome"},
                }
            ],
        },
        "not a resource",
        [{"resourceType": "MedicationRequest", "id": "a"}],
    ],
    ids=["operation-outcome", "bundle-with-error-outcome", "string", "list"],
)
async def test_a_failed_prefetch_key_is_fetched_from_the_server(
    fhir: NodeFhirServer, http: httpx.AsyncClient, failed_value: Any
) -> None:
    request = resolver_request(
        fhir_server=fhir.base_url,
        access_token=ACCESS_TOKEN,
        prefetch={"medicationRequests": failed_value},
    )

    resolved = await resolve_prefetch(
        request, HISTORY, SIGN_REQUIRED, _client(fhir, http), DEADLINE
    )

    assert resolved.fetched == {"medicationRequests"}
    assert _ids(resolved.resources, "MedicationRequest") == {"hist-1", "hist-2", "hist-3", "hist-4"}
    assert "OperationOutcome" not in _types(resolved.resources)


async def test_warning_outcome_entries_are_dropped_and_the_data_used(
    fhir: NodeFhirServer, http: httpx.AsyncClient
) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {"resource": draft_order("hist-y", medicationCodeableConcept={"text": "y"})},
            {
                "resource": {
                    "resourceType": "OperationOutcome",
                    "issue": [{"severity": "warning", "code": "informational"}],
                },
                "search": {"mode": "outcome"},
            },
        ],
    }
    request = resolver_request(prefetch={"medicationRequests": bundle})

    resolved = await resolve_prefetch(request, HISTORY, SIGN_REQUIRED, None, DEADLINE)

    assert [r["id"] for r in resolved.resources] == ["hist-y"]
    assert fhir.requests() == []


async def test_null_for_a_read_template_is_known_empty(
    fhir: NodeFhirServer, http: httpx.AsyncClient
) -> None:
    request = resolver_request(
        fhir_server=fhir.base_url, access_token=ACCESS_TOKEN, prefetch={"patient": None}
    )
    templates = {"patient": SIGN["patient"]}

    resolved = await resolve_prefetch(
        request, templates, frozenset({"patient"}), _client(fhir, http), DEADLINE
    )

    assert resolved.resources == []
    assert resolved.missing == frozenset()
    assert fhir.requests() == []


async def test_a_read_of_an_absent_resource_is_known_empty(
    fhir: NodeFhirServer, http: httpx.AsyncClient
) -> None:
    request = resolver_request(
        patient_id="no-such-patient", fhir_server=fhir.base_url, access_token=ACCESS_TOKEN
    )

    resolved = await resolve_prefetch(
        request, {"patient": SIGN["patient"]}, frozenset(), _client(fhir, http), DEADLINE
    )

    assert resolved.resources == []
    assert resolved.missing == frozenset()
    assert resolved.fetched == {"patient"}


async def test_a_paginated_search_is_followed_to_the_end(
    fhir: NodeFhirServer, http: httpx.AsyncClient
) -> None:
    templates = {"medicationRequests": "MedicationRequest?patient={{context.patientId}}&_count=10"}
    request = resolver_request(patient_id=MANY_PATIENT, fhir_server=fhir.base_url)

    resolved = await resolve_prefetch(
        request, templates, frozenset(), _client(fhir, http), DEADLINE
    )

    orders = _ids(resolved.resources, "MedicationRequest")
    assert len(orders) == MANY_ORDERS
    pages = [r for r in fhir.requests() if r.url.startswith("MedicationRequest")]
    assert len(pages) == 5  # 45 / 10, rounded up


async def test_pagination_is_bounded(fhir: NodeFhirServer, http: httpx.AsyncClient) -> None:
    templates = {"medicationRequests": "MedicationRequest?patient={{context.patientId}}&_count=3"}
    request = resolver_request(patient_id=MANY_PATIENT, fhir_server=fhir.base_url)
    client = _client(fhir, http, max_pages=10, max_entries=1000)

    resolved = await resolve_prefetch(request, templates, frozenset(), client, DEADLINE)

    assert len(_ids(resolved.resources, "MedicationRequest")) == 30
    assert len([r for r in fhir.requests() if r.url.startswith("MedicationRequest")]) == 10
    assert resolved.missing == frozenset()  # truncated history is used, not discarded
    assert resolved.cut_off == frozenset({"MedicationRequest"})  # and said to be incomplete


async def test_entry_bound_caps_the_resources(
    fhir: NodeFhirServer, http: httpx.AsyncClient
) -> None:
    templates = {"medicationRequests": "MedicationRequest?patient={{context.patientId}}&_count=15"}
    request = resolver_request(patient_id=MANY_PATIENT, fhir_server=fhir.base_url)
    client = _client(fhir, http, max_entries=20)

    resolved = await resolve_prefetch(request, templates, frozenset(), client, DEADLINE)

    assert len(_ids(resolved.resources, "MedicationRequest")) == 20


def _first_page(fhir: NodeFhirServer, count: int) -> dict[str, Any]:
    response = httpx.get(
        f"{fhir.base_url}/MedicationRequest",
        params={"patient": MANY_PATIENT, "_count": str(count), "_sort": "-authoredon"},
    )
    response.raise_for_status()
    page: dict[str, Any] = response.json()
    assert any(link["relation"] == "next" for link in page["link"])
    return page


async def test_a_prefetched_first_page_is_continued_on_the_server(
    fhir: NodeFhirServer, http: httpx.AsyncClient
) -> None:
    page = _first_page(fhir, 10)
    fhir.reset_log()
    request = resolver_request(
        patient_id=MANY_PATIENT,
        fhir_server=fhir.base_url,
        access_token=ACCESS_TOKEN,
        prefetch={"medicationRequests": page},
    )

    resolved = await resolve_prefetch(
        request, HISTORY, SIGN_REQUIRED, _client(fhir, http), DEADLINE
    )

    assert len(_ids(resolved.resources, "MedicationRequest")) == MANY_ORDERS
    assert resolved.fetched == {"medicationRequests"}
    page_requests = [r for r in fhir.requests() if r.url.startswith("MedicationRequest")]
    assert len(page_requests) == 4  # offsets 10, 20, 30, 40
    assert all("_offset=" in r.url and r.authorization == BEARER for r in page_requests)


async def test_without_a_server_a_prefetched_first_page_is_used_as_it_is(
    fhir: NodeFhirServer,
) -> None:
    page = _first_page(fhir, 10)
    fhir.reset_log()
    request = resolver_request(patient_id=MANY_PATIENT, prefetch={"medicationRequests": page})

    resolved = await resolve_prefetch(request, HISTORY, SIGN_REQUIRED, None, DEADLINE)

    assert len(_ids(resolved.resources, "MedicationRequest")) == 10
    assert resolved.missing == frozenset()
    assert resolved.fetched == frozenset()
    assert fhir.requests() == []
    # ... and said to be incomplete: its further pages were not read.
    assert resolved.cut_off == frozenset({"MedicationRequest"})


async def test_medication_references_are_resolved_locally_or_read_once(
    fhir: NodeFhirServer, http: httpx.AsyncClient
) -> None:
    oxycodone = {"resourceType": "Medication", "id": "med-bundled", "code": {"text": "Oxycodon"}}
    drafts: list[dict[str, Any]] = [
        {
            "resource": draft_order(
                "d-contained",
                contained=[{"resourceType": "Medication", "id": "c1", "code": {"text": "x"}}],
                medicationReference={"reference": "#c1"},
            )
        },
        {
            "resource": draft_order(
                "d-bundled", medicationReference={"reference": "Medication/med-bundled"}
            )
        },
        {"fullUrl": "Medication/med-bundled", "resource": oxycodone},
        {
            "resource": draft_order(
                "d-urn",
                medicationReference={"reference": "urn:uuid:0f6d3c1e-8a55-4b1c-9d4e-2c8e1f9a7b10"},
            )
        },
        {
            "fullUrl": "urn:uuid:0f6d3c1e-8a55-4b1c-9d4e-2c8e1f9a7b10",
            "resource": {"resourceType": "Medication", "code": {"text": "Tramadol"}},
        },
        {
            "resource": draft_order(
                "d-server", medicationReference={"reference": "Medication/med-tramadol-50"}
            )
        },
        {
            "resource": draft_order(
                "d-absent", medicationReference={"reference": "Medication/no-such"}
            )
        },
        {"resource": draft_order("d-broken", medicationReference={"reference": "#not-contained"})},
    ]
    request = resolver_request(
        fhir_server=fhir.base_url, access_token=ACCESS_TOKEN, draft_entries=drafts
    )

    resolved = await resolve_prefetch(
        request, HISTORY, SIGN_REQUIRED, _client(fhir, http), DEADLINE
    )

    reads = Counter(r.url for r in fhir.requests() if r.url.startswith("Medication/"))
    assert reads == {
        "Medication/med-tramadol-50": 1,  # a draft and hist-2 refer to it: read once
        "Medication/med-oxy-10": 1,  # hist-1
        "Medication/no-such": 1,
    }
    assert _ids(resolved.resources, "Medication") == {"med-tramadol-50", "med-oxy-10"}
    assert resolved.unresolved_references == {"Medication/no-such", "#not-contained"}


async def test_a_medication_already_in_the_data_is_not_read(
    fhir: NodeFhirServer, http: httpx.AsyncClient
) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {
                "resource": draft_order(
                    "hist-1", medicationReference={"reference": "Medication/med-oxy-10"}
                )
            },
            {
                "resource": {"resourceType": "Medication", "id": "med-oxy-10"},
                "search": {"mode": "include"},
            },
        ],
    }
    request = resolver_request(
        fhir_server=fhir.base_url,
        access_token=ACCESS_TOKEN,
        prefetch={"medicationRequests": bundle},
        draft_entries=[],
    )

    resolved = await resolve_prefetch(
        request, HISTORY, SIGN_REQUIRED, _client(fhir, http), DEADLINE
    )

    assert fhir.requests() == []
    assert _ids(resolved.resources, "Medication") == {"med-oxy-10"}


async def test_a_key_whose_template_cannot_be_filled_is_missing_not_fetched(
    fhir: NodeFhirServer, http: httpx.AsyncClient
) -> None:
    request = resolver_request(
        fhir_server=fhir.base_url, access_token=ACCESS_TOKEN, user_id="PractitionerRole/role-gp-1"
    )
    templates = {"practitionerRoles": SIGN["practitionerRoles"]}

    resolved = await resolve_prefetch(
        request, templates, frozenset(), _client(fhir, http), DEADLINE
    )

    assert resolved.missing == {"practitionerRoles"}
    assert fhir.requests() == []


async def test_duplicates_across_keys_are_kept_once(
    fhir: NodeFhirServer, http: httpx.AsyncClient
) -> None:
    templates = {"a": "Patient/{{context.patientId}}", "b": "Patient?_id={{context.patientId}}"}
    request = resolver_request(fhir_server=fhir.base_url)

    resolved = await resolve_prefetch(
        request, templates, frozenset(), _client(fhir, http), DEADLINE
    )

    assert [r["id"] for r in resolved.resources] == ["pat-1"]


async def test_the_access_token_is_never_logged(
    fhir: NodeFhirServer, http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = _client(fhir, http, max_pages=2)
    request = resolver_request(
        patient_id=MANY_PATIENT, fhir_server=fhir.base_url, access_token=ACCESS_TOKEN
    )
    templates = {**SIGN, "truncated": "MedicationRequest?patient={{context.patientId}}&_count=5"}

    resolved = await resolve_prefetch(request, templates, frozenset(), client, DEADLINE)

    assert any("truncated" in record.getMessage() for record in caplog.records)
    assert ACCESS_TOKEN not in caplog.text
    assert ACCESS_TOKEN not in repr(client) and ACCESS_TOKEN not in str(client)
    assert ACCESS_TOKEN not in repr(request)
    assert ACCESS_TOKEN not in repr(resolved)
