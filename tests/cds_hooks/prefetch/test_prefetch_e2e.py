"""End to end: a sandbox-like EHR (ES384 JWT with kid/jku, JWKS on 127.0.0.1, uuid
hookInstance, partial prefetch) calls the service under uvicorn, which fetches what is missing
from a real FHIR server on loopback (or from one that fails), within its deadline."""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import time
from collections import Counter
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from app.routes.cds import EVALUATION_RESERVE_SECONDS as EVALUATION_RESERVE
from rules.hooks import ORDER_SELECT, ORDER_SIGN
from tests.cds_hooks.prefetch.conftest import ACCESS_TOKEN, MANY_ORDERS, MANY_PATIENT, Service
from tests.cds_hooks.prefetch.ehr_client import CallResult, EhrClient
from tests.cds_hooks.prefetch.servers import MisbehavingFhirServer, NodeFhirServer
from tests.sample_requests import draft_order

SIGN_SERVICE = "opioid-order-sign"
SIGN = ORDER_SIGN.prefetch
SLACK = 0.1  # the response must come within the deadline plus 100 ms
BEARER = f"Bearer {ACCESS_TOKEN}"


def _drafts() -> list[dict[str, Any]]:
    return [draft_order("draft-1", medicationReference={"reference": "Medication/med-oxy-10"})]


def _assert_within_deadline(result: CallResult, service: Service) -> None:
    assert result.seconds < service.deadline_seconds + SLACK, result.seconds


def _assert_cards_name_missing_data(result: CallResult, missing: frozenset[str]) -> None:
    """There are cards (the draft is a short-acting opioid), and each states which data was
    missing (the engine puts the keys in its explanation)."""
    assert result.body["cards"], "expected cards for a short-acting oxycodone draft"
    for card in result.body["cards"]:
        text = json.dumps(card)
        assert all(key in text for key in missing), card


def _assert_412_naming(result: CallResult, key: str) -> None:
    assert result.status == 412, result.body
    assert result.body["resourceType"] == "OperationOutcome"
    issue = result.body["issue"][0]
    assert issue["severity"] == "error"
    assert key in json.dumps(result.body)


@pytest.mark.fhirserver
def test_sandbox_call_with_partial_prefetch_fetches_every_missing_key(
    ehr: EhrClient, fhir: NodeFhirServer, service: Service
) -> None:
    # The EHR resolves two keys itself, the history as a first page of 20 with a `next` link.
    prefetch = ehr.prefetch_from(
        fhir.base_url, SIGN, ["patient", "medicationRequests"], patient_id=MANY_PATIENT, count=20
    )
    assert prefetch["medicationRequests"]["link"][-1]["relation"] == "next"
    fhir.reset_log()
    body = ehr.hook_request(
        "order-sign",
        patient_id=MANY_PATIENT,
        fhir_server=fhir.base_url,
        access_token=ACCESS_TOKEN,
        draft_orders=_drafts(),
        prefetch=prefetch,
    )

    result = ehr.call(service.url(SIGN_SERVICE), body)

    assert result.status == 200, result.body
    assert isinstance(result.body["cards"], list)
    _assert_within_deadline(result, service)
    assert service.evaluator.last_missing == frozenset()
    resources = service.evaluator.last_resources
    orders = {r["id"] for r in resources if r["resourceType"] == "MedicationRequest"}
    assert len(orders) == MANY_ORDERS  # page 1 from the EHR, pages 2-4 fetched by the service
    assert any(r["resourceType"] == "Medication" and r["id"] == "med-oxy-10" for r in resources)
    seen = fhir.requests()
    assert {r.authorization for r in seen} == {BEARER}
    by_type = Counter(r.url.split("?")[0] for r in seen)
    missing_keys = set(SIGN) - {"patient", "medicationRequests"}
    expected_types = {SIGN[key].split("?")[0] for key in missing_keys}
    assert {t: n for t, n in by_type.items() if t in expected_types} == dict.fromkeys(
        expected_types, 1
    )
    assert by_type["MedicationRequest"] == 2  # the further pages: offsets 20, 40
    assert by_type["Medication/med-oxy-10"] == 1  # draft and history share it: read once
    assert "Patient/" + MANY_PATIENT not in by_type  # prefetched: not fetched again


@pytest.mark.fhirserver
def test_without_prefetch_every_key_is_fetched(
    ehr: EhrClient, fhir: NodeFhirServer, service: Service
) -> None:
    body = ehr.hook_request(
        "order-sign",
        patient_id="pat-1",
        fhir_server=fhir.base_url,
        access_token=ACCESS_TOKEN,
        draft_orders=_drafts(),
    )

    result = ehr.call(service.url(SIGN_SERVICE), body)

    assert result.status == 200, result.body
    _assert_within_deadline(result, service)
    assert service.evaluator.last_missing == frozenset()
    searched = sorted(r.url for r in fhir.requests() if not r.url.startswith("Medication/"))
    assert len(searched) == len(SIGN)
    assert len(set(searched)) == len(SIGN)
    types = Counter(r["resourceType"] for r in service.evaluator.last_resources)
    assert types["MedicationRequest"] == 4
    assert types["Patient"] == 1


@pytest.mark.parametrize("mode", ["status500", "garbage", "never"])
def test_a_failing_fhir_server_without_the_required_data_gives_412_in_time(
    ehr: EhrClient, bad_server: MisbehavingFhirServer, service: Service, mode: str
) -> None:
    body = ehr.hook_request(
        "order-sign",
        patient_id="pat-1",
        fhir_server=bad_server.base_url(mode),
        access_token=ACCESS_TOKEN,
        draft_orders=_drafts(),
    )

    result = ehr.call(service.url(SIGN_SERVICE), body)

    _assert_412_naming(result, "medicationRequests")
    _assert_within_deadline(result, service)
    assert ACCESS_TOKEN not in json.dumps(result.body)
    assert len({r.url for r in bad_server.requests()}) >= len(SIGN)  # every key was tried


@pytest.mark.parametrize("mode", ["status500", "garbage", "never"])
def test_a_failing_fhir_server_for_optional_data_degrades_in_time(
    ehr: EhrClient, bad_server: MisbehavingFhirServer, service: Service, mode: str
) -> None:
    history = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": draft_order("hist-1", medicationCodeableConcept={"text": "x"})}],
    }
    body = ehr.hook_request(
        "order-sign",
        patient_id="pat-1",
        fhir_server=bad_server.base_url(mode),
        access_token=ACCESS_TOKEN,
        draft_orders=[draft_order("draft-1")],
        prefetch={"medicationRequests": history},
    )

    result = ehr.call(service.url(SIGN_SERVICE), body)

    assert result.status == 200, result.body
    assert isinstance(result.body["cards"], list)
    _assert_within_deadline(result, service)
    assert service.evaluator.last_missing == frozenset(SIGN) - {"medicationRequests"}
    assert [r["id"] for r in service.evaluator.last_resources] == ["hist-1"]
    _assert_cards_name_missing_data(result, service.evaluator.last_missing)


def test_the_deadline_holds_when_it_is_shorter_than_the_fhir_timeout(
    ehr: EhrClient, bad_server: MisbehavingFhirServer, short_deadline_service: Service
) -> None:
    body = ehr.hook_request(
        "order-sign",
        patient_id="pat-1",
        fhir_server=bad_server.base_url("never"),
        access_token=ACCESS_TOKEN,
        draft_orders=_drafts(),
    )

    result = ehr.call(short_deadline_service.url(SIGN_SERVICE), body)

    _assert_412_naming(result, "medicationRequests")
    _assert_within_deadline(result, short_deadline_service)
    # It waited for the server as long as the deadline allows: all of it but what is kept
    # back for evaluating and answering.
    assert result.seconds > short_deadline_service.deadline_seconds - EVALUATION_RESERVE - 0.05


def test_no_fhir_server_and_no_required_prefetch_gives_412_at_once(
    ehr: EhrClient, service: Service
) -> None:
    body = ehr.hook_request(
        "order-sign",
        patient_id="pat-1",
        fhir_server=None,
        draft_orders=_drafts(),
        prefetch={"patient": {"resourceType": "Patient", "id": "pat-1"}},
    )

    result = ehr.call(service.url(SIGN_SERVICE), body)

    _assert_412_naming(result, "medicationRequests")
    assert result.seconds < 0.5


def test_no_fhir_server_degrades_optional_data(ehr: EhrClient, service: Service) -> None:
    body = ehr.hook_request(
        "order-select",
        patient_id="pat-1",
        fhir_server=None,
        draft_orders=[draft_order("draft-1")],
        prefetch={"patient": {"resourceType": "Patient", "id": "pat-1"}, "conditions": None},
    )

    result = ehr.call(service.url("opioid-order-select"), body)

    assert result.status == 200, result.body
    expected = frozenset(ORDER_SELECT.prefetch) - {"patient", "conditions"}
    assert service.evaluator.last_missing == expected
    _assert_cards_name_missing_data(result, expected)


def test_the_service_verifies_the_ehr_jwt(ehr: EhrClient, service: Service) -> None:
    """The calls above are authenticated for real: a token from another key is refused."""
    url = service.url(SIGN_SERVICE)
    body = ehr.hook_request("order-sign", patient_id="pat-1", fhir_server=None)
    forged = ehr.token(url, signing_key=ec.generate_private_key(ec.SECP384R1()))

    assert ehr.call(url, body, token=forged).status == 401
    assert ehr.call(url, body, sign=False).status == 401


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.getMessage()} {record.__dict__!r}")


@pytest.mark.fhirserver
def _audit_rows(service: Service) -> int:
    with contextlib.closing(sqlite3.connect(service.directory / "service.sqlite3")) as db:
        (count,) = db.execute("SELECT count(*) FROM card_events").fetchone()
        return int(count)


def test_the_fhir_token_reaches_no_log_line_and_no_database(
    ehr: EhrClient, fhir: NodeFhirServer, bad_server: MisbehavingFhirServer, service: Service
) -> None:
    root = logging.getLogger()
    collect = _Collect()
    level = root.level
    root.addHandler(collect)
    root.setLevel(logging.DEBUG)  # httpx/httpcore debug lines included
    audited_before = _audit_rows(service)
    try:
        for fhir_server in (fhir.base_url, bad_server.base_url("status500")):
            body = ehr.hook_request(
                "order-sign",
                patient_id="pat-1",
                fhir_server=fhir_server,
                access_token=ACCESS_TOKEN,
                draft_orders=_drafts(),
            )
            assert ehr.call(service.url(SIGN_SERVICE), body).status in (200, 412)
    finally:
        root.removeHandler(collect)
        root.setLevel(level)
    deadline = time.monotonic() + 10
    while _audit_rows(service) <= audited_before:  # the audit writer stores in batches
        assert time.monotonic() < deadline, "the call was never audited"
        time.sleep(0.05)

    assert any("prefetch" in line for line in collect.lines)
    assert not [line for line in collect.lines if ACCESS_TOKEN in line]
    stored = [path for path in service.directory.iterdir() if path.is_file()]
    assert stored
    assert not [path for path in stored if ACCESS_TOKEN.encode() in path.read_bytes()]
