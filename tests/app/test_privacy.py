"""Patient data and tokens never reach the log or the audit trail."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from app.db import CardEvent, migrate
from app.main import create_app
from app.settings import Settings
from app.store import pseudonymise_patient
from tests.app.live_server import serving
from tests.app.recording_fhir import recording_fhir_server
from tests.sample_requests import hook_request

BSN = "999911120"
NAME = "Wilhelmina Zwartkop"
FHIR_TOKEN = "fhir-access-token-that-must-stay-secret"
JWT = "eyJhbGciOiJFUzM4NCJ9.eyJpc3MiOiJzZWNyZXQifQ.c2lnbmF0dXJl"
PATIENT_ID = "patient-4711-private"


def _request_full_of_patient_data() -> dict[str, object]:
    request = hook_request(patientId=PATIENT_ID)
    request["fhirServer"] = "http://127.0.0.1:9/fhir"  # nothing listens: the fetch fails fast
    request["fhirAuthorization"] = {
        "access_token": FHIR_TOKEN,
        "token_type": "Bearer",
        "expires_in": 30,
        "scope": "patient/*.read",
        "subject": "opioid-cds",
    }
    request["prefetch"] = {
        "patient": {
            "resourceType": "Patient",
            "id": PATIENT_ID,
            "identifier": [{"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": BSN}],
            "name": [{"text": NAME}],
            "birthDate": "1950-01-01",
        },
        "medicationRequests": {"resourceType": "Bundle", "type": "searchset", "entry": []},
    }
    return request


def test_no_token_patient_id_name_or_bsn_in_the_log(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    migrate(settings.database_url)
    with TestClient(create_app(settings)) as client:
        capsys.readouterr()
        client.post(
            "/cds-services/opioid-order-sign",
            json=_request_full_of_patient_data(),
            headers={"Authorization": f"Bearer {JWT}"},
        )
        client.post("/cds-services/opioid-order-sign", content=f'{{"x": "{BSN} {NAME}"'.encode())
        log = capsys.readouterr().out

    assert '"path": "/cds-services/opioid-order-sign"' in log  # the request was logged
    for secret in (BSN, NAME, FHIR_TOKEN, JWT, PATIENT_ID, "Zwartkop"):
        assert secret not in log


def test_the_audit_trail_holds_a_pseudonym_not_the_patient_id(settings: Settings) -> None:
    migrate(settings.database_url)
    request = _request_full_of_patient_data()
    request.pop("fhirServer")
    request.pop("fhirAuthorization")
    with TestClient(create_app(settings)) as client:
        assert client.post("/cds-services/opioid-order-sign", json=request).status_code == 200

    async def events() -> list[CardEvent]:
        engine = create_async_engine(settings.database_url)
        try:
            async with engine.connect() as connection:
                return list((await connection.execute(select(CardEvent))).all())  # type: ignore[arg-type]
        finally:
            await engine.dispose()

    for _ in range(50):  # the audit event is written after the response
        rows = asyncio.run(events())
        if rows:
            break
        time.sleep(0.05)
    (event,) = rows
    assert event.patient_pseudonym == pseudonymise_patient(PATIENT_ID, settings.audit_secret)
    assert PATIENT_ID not in repr(event)
    assert event.hook_instance == request["hookInstance"]


def test_pseudonyms_depend_on_the_secret() -> None:
    assert pseudonymise_patient("p1", "secret-a" * 3) != pseudonymise_patient("p1", "secret-b" * 3)
    assert pseudonymise_patient("p1", "s" * 20) == pseudonymise_patient("p1", "s" * 20)
    assert pseudonymise_patient(None, "s" * 20) is None


def test_a_logged_exception_names_its_type_not_its_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from app.logging import configure_logging

    configure_logging()
    try:
        raise RuntimeError(f"INSERT failed for {PATIENT_ID} {BSN}")
    except RuntimeError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    line = capsys.readouterr().out

    assert '"error_type": "RuntimeError"' in line
    assert '"error_frames": "tests/app/test_privacy.py:' in line  # where, not what
    assert "test_a_logged_exception_names_its_type_not_its_message" in line
    assert PATIENT_ID not in line
    assert BSN not in line


# --- every logger at DEBUG, on a real server that fetches from a real FHIR server ------------

FETCHED_PATIENT_ID = "999911120"  # shaped like a BSN, as some systems use it as the id
FETCHED_BSN = "999993653"
FETCHED_NAME = "Hendrika Ploegmaker"


def _everything_at_debug() -> None:
    """Every logger that exists, and the root, at DEBUG (as a curious operator might set)."""
    logging.getLogger().setLevel(logging.DEBUG)
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):
            logger.setLevel(logging.DEBUG)


def test_no_patient_data_or_token_in_any_log_line_at_debug(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The service fetches a patient's data from fhirServer (no prefetch); httpx, httpcore,
    uvicorn's access log, SQLAlchemy and asyncio all log at DEBUG; no line may hold the
    patient id, the BSN, the name or a token."""
    patient = {
        "resourceType": "Patient",
        "id": FETCHED_PATIENT_ID,
        "identifier": [{"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": FETCHED_BSN}],
        "name": [{"text": FETCHED_NAME}],
        "birthDate": "1950-01-01",
    }
    with recording_fhir_server([patient]) as fhir:
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'service.sqlite3'}"
        migrate(database_url)
        app = create_app(Settings(database_url=database_url, log_level="DEBUG"))
        with serving(app) as base_url:
            _everything_at_debug()
            for hook, service in (
                ("order-sign", "opioid-order-sign"),
                ("patient-view", "opioid-patient-view"),
            ):
                request = hook_request(hook, patientId=FETCHED_PATIENT_ID)
                request.pop("prefetch")
                request["fhirServer"] = f"{fhir.origin}/fhir"
                request["fhirAuthorization"] = {
                    "access_token": FHIR_TOKEN,
                    "token_type": "Bearer",
                    "expires_in": 30,
                    "scope": "patient/*.read",
                    "subject": "opioid-cds",
                }
                url = f"{base_url}/cds-services/{service}?patient={FETCHED_PATIENT_ID}"
                answered = httpx.post(url, json=request, timeout=10)
                assert answered.status_code == 200, answered.text
            refused = httpx.post(
                f"{base_url}/cds-services/opioid-order-sign?name={FETCHED_NAME}",
                json=request,
                headers={"Authorization": f"Bearer {JWT}"},
                timeout=10,
            )
            assert refused.status_code == 401
        captured = capfd.readouterr()
    log = captured.out + captured.err

    # The data was really fetched with the token, and the calls were really logged.
    assert any(f"patient={FETCHED_PATIENT_ID}" in seen.path for seen in fhir.seen)
    assert {seen.authorization for seen in fhir.seen} == {f"Bearer {FHIR_TOKEN}"}
    assert '"event": "request"' in log and '"event": "client jwt rejected"' in log
    for secret in (FETCHED_PATIENT_ID, FETCHED_BSN, FETCHED_NAME, "Ploegmaker", FHIR_TOKEN, JWT):
        assert secret not in log, [line for line in log.splitlines() if secret in line][:3]
