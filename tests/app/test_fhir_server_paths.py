"""An allowlist entry with a base path holds: no `fhirServer` spelling (dot segments, `%2e`,
double slashes, case, default ports) reaches a path outside it, nor takes the token there.

Red team finding (issue 14): with `http://host:port/ok` allowed, `http://host:port/ok/../e500`
reached `/e500/...` with the `fhirAuthorization` bearer token.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from app.db import migrate
from app.main import create_app
from app.settings import Settings
from cds_hooks.fhir_client import FhirClient
from cds_hooks.urls import normalise
from tests.app.recording_fhir import recording_fhir_server
from tests.sample_requests import hook_request

TOKEN = "fhir-token-for-the-ok-base-only"
ALLOWED = "http://127.0.0.1:8080/ok"


@pytest.mark.parametrize(
    "escape",
    [
        "/ok/../e500",
        "/ok/%2e%2e/e500",
        "/ok/%2E%2E/e500",
        "/ok/.%2e/e500",
        "/ok/./../e500",
        "/ok//../e500",
        "/ok/fhir/../../e500",
        "/ok/%2fe500",
        "/ok/..%2fe500",
        "/ok/..\\e500",
        "/ok/..%5ce500",
        "/okay",
        "/ok/..",
    ],
)
def test_a_path_escaping_the_allowed_base_is_refused(escape: str) -> None:
    settings = Settings(fhir_server_allowlist=[ALLOWED])
    assert not settings.may_call_fhir_server(f"http://127.0.0.1:8080{escape}")


@pytest.mark.parametrize(
    "spelling",
    [
        "http://127.0.0.1:8080/ok",
        "HTTP://127.0.0.1:8080/ok/",
        "http://127.0.0.1:8080/ok/./fhir",
        "http://127.0.0.1:8080//ok//fhir",
        "http://127.0.0.1:8080/elsewhere/../ok/fhir",
        "http://127.0.0.1:8080/%6Fk/fhir",
    ],
)
def test_other_spellings_of_the_allowed_base_are_allowed(spelling: str) -> None:
    assert Settings(fhir_server_allowlist=[ALLOWED]).may_call_fhir_server(spelling)


def test_default_ports_and_the_case_of_the_host_do_not_matter() -> None:
    settings = Settings(fhir_server_allowlist=["https://HIS.example.nl:443/fhir"])
    assert settings.may_call_fhir_server("https://his.example.nl/fhir/r4")
    assert not settings.may_call_fhir_server("https://his.example.nl:8443/fhir/r4")
    assert (
        str(normalise("HTTPS://His.Example.NL:443/fhir/%7Er4/"))
        == "https://his.example.nl/fhir/~r4"
    )


@pytest.mark.parametrize(
    ("fhir_path", "status"),
    [
        ("/ok/../e500", 412),
        ("/ok/%2e%2e/e500", 412),
        ("/ok/.%2E/e500", 412),
        ("/ok/fhir/../../e500", 412),
        ("/ok//../e500", 412),
        ("/ok/./fhir/../fhir", 200),  # a harmless spelling: fetched, from /ok/fhir only
    ],
)
def test_the_token_never_leaves_the_allowed_base(
    tmp_path: Path, fhir_path: str, status: int
) -> None:
    """A real server on loopback records every path it is asked and whether a token came."""
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'service.sqlite3'}"
    migrate(database_url)
    request = hook_request("order-sign")
    del request["prefetch"]["medicationRequests"]  # required: must be fetched
    request["fhirAuthorization"] = {
        "access_token": TOKEN,
        "token_type": "Bearer",
        "expires_in": 30,
        "scope": "patient/*.read",
        "subject": "opioid-cds",
    }
    with recording_fhir_server([]) as fhir:
        settings = Settings(database_url=database_url, fhir_server_allowlist=[f"{fhir.origin}/ok"])
        request["fhirServer"] = f"{fhir.origin}{fhir_path}"
        with TestClient(create_app(settings)) as client:
            response = client.post("/cds-services/opioid-order-sign", json=request)

    assert response.status_code == status, response.text
    outside = [seen for seen in fhir.seen if not seen.path.startswith("/ok/")]
    assert outside == []
    if status == 200:  # the server does record: the allowed spelling was fetched, with token
        assert fhir.seen
        assert all(seen.path.startswith("/ok/fhir/") for seen in fhir.seen)
        assert any(seen.path.startswith("/ok/fhir/MedicationRequest?") for seen in fhir.seen)
        assert {seen.authorization for seen in fhir.seen} == {f"Bearer {TOKEN}"}


@pytest.mark.anyio
async def test_a_next_link_or_reference_cannot_climb_out_of_fhir_server() -> None:
    """`next` links and absolute references are compared in the same normal form."""
    async with httpx.AsyncClient() as http:
        client = FhirClient("http://127.0.0.1:8080/ok/fhir", "token", http, timeout_seconds=1)
        assert client.same_server("http://127.0.0.1:8080/ok/fhir/MedicationRequest?page=2")
        for escape in ("/ok/fhir/../../e500/x", "/ok/fhir/%2e%2e/other/x", "/ok/fhir/..%2fx"):
            assert not client.same_server(f"http://127.0.0.1:8080{escape}"), escape
        assert client.local_reference("http://127.0.0.1:8080/ok//fhir/Medication/m1") == (
            "Medication",
            "m1",
        )
        assert client.local_reference("http://127.0.0.1:8080/ok/fhir/../Medication/m1") is None
