"""Fixtures for the prefetch tests: real servers on 127.0.0.1, started and stopped here.

- `fhir_server` (session): the Node in-memory FHIR server seeded from fhir_seed.json plus a
  patient with 45 MedicationRequests (paging). Tests using it are marked `fhirserver`; without
  Node they are skipped, unless OPIOID_CDS_REQUIRE_NODE=1 (CI), where that is a failure.
- `bad_server` (session): the misbehaving FHIR server (500, garbage, never answers, ...).
- `ehr` (session): the sandbox-like EHR client with its JWKS endpoint.
- `service`, `short_deadline_service` (module): the service under uvicorn, trusting `ehr`'s
  key, in production mode so every call must carry a valid JWT.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from fhir_fixtures.builders import med_request
from tests.cds_hooks.prefetch.ehr_client import EhrClient
from tests.cds_hooks.prefetch.servers import (
    AppServer,
    MisbehavingFhirServer,
    NodeFhirServer,
    NodeUnavailable,
    free_port,
)

MANY_PATIENT = "pat-many"
MANY_ORDERS = 45
ACCESS_TOKEN = "fhir-access-token-6f1c2e0b9a"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def many_orders() -> list[dict[str, Any]]:
    return [
        med_request(
            f"many-{number:03d}",
            reference="Medication/med-oxy-10",
            status="completed",
            patient=MANY_PATIENT,
            authored=f"2026-{1 + number % 9:02d}-{1 + number % 28:02d}",
        )
        for number in range(MANY_ORDERS)
    ]


@pytest.fixture(scope="session")
def fhir_server() -> Iterator[NodeFhirServer]:
    server = NodeFhirServer()
    try:
        server.start()
    except NodeUnavailable as exc:
        if os.environ.get("OPIOID_CDS_REQUIRE_NODE", "") in ("1", "true", "yes"):
            pytest.fail(f"the Node FHIR server is required: {exc}")
        pytest.skip(f"the Node FHIR server is not available: {exc}")
    try:
        server.seed_from_file()
        server.put([{"resourceType": "Patient", "id": MANY_PATIENT}, *many_orders()])
        yield server
    finally:
        server.stop()


@pytest.fixture
def fhir(fhir_server: NodeFhirServer) -> NodeFhirServer:
    """The FHIR server with an empty request log."""
    fhir_server.reset_log()
    return fhir_server


@pytest.fixture(scope="session")
def bad_server_session() -> Iterator[MisbehavingFhirServer]:
    server = MisbehavingFhirServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def bad_server(bad_server_session: MisbehavingFhirServer) -> MisbehavingFhirServer:
    bad_server_session.reset_log()
    return bad_server_session


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(follow_redirects=False) as client:
        yield client


@pytest.fixture(scope="session")
def ehr() -> Iterator[EhrClient]:
    client = EhrClient()
    client.start()
    try:
        yield client
    finally:
        client.stop()


# --- the service --------------------------------------------------------------------------


@dataclass
class RecordingEvaluator:
    """Wraps the app's evaluator and keeps what prefetch resolution handed it.

    The evaluator's signature belongs to the app (keyword arguments, or one input object with
    `resources` and `missing_data`); both are read here.
    """

    inner: Any
    calls: list[dict[str, Any]] = field(default_factory=list)

    def evaluate(self, *args: Any, **kwargs: Any) -> Any:
        source: Any = args[0] if args else None
        call = {
            name: getattr(source, name) if source is not None else kwargs.get(name)
            for name in ("resources", "missing_data")
        }
        self.calls.append(call)
        return self.inner.evaluate(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        if name in ("inner", "calls"):
            raise AttributeError(name)
        return getattr(self.inner, name)

    @property
    def last_resources(self) -> Sequence[Mapping[str, Any]]:
        resources: Sequence[Mapping[str, Any]] = self.calls[-1]["resources"]
        return resources

    @property
    def last_missing(self) -> frozenset[str]:
        missing: frozenset[str] = self.calls[-1]["missing_data"]
        return missing


@dataclass
class Service:
    server: AppServer
    evaluator: RecordingEvaluator
    deadline_seconds: float
    directory: Path
    """Holds the service's SQLite database (and nothing else of the test's)."""

    def url(self, service_id: str) -> str:
        return f"{self.server.base_url}/cds-services/{service_id}"


@contextmanager
def _serve(
    ehr: EhrClient,
    directory: Path,
    **settings_values: Any,
) -> Iterator[Service]:
    """The service under uvicorn in production mode, trusting only `ehr`."""
    from app.db import migrate
    from app.main import create_app
    from app.settings import Settings

    trust_file = directory / "trusted-clients.json"
    trust_file.write_text(json.dumps({"clients": [ehr.trust_entry()]}), encoding="utf-8")
    database_url = f"sqlite+aiosqlite:///{directory / 'service.sqlite3'}"
    migrate(database_url)
    settings = Settings(
        environment="production",
        audit_secret="prefetch-tests-audit-secret-0123456789",
        database_url=database_url,
        trusted_clients=trust_file,
        log_level="WARNING",
        # The test FHIR servers speak plain http on loopback; production allows https only.
        fhir_server_allowlist=["http://127.0.0.1:*"],
        **settings_values,
    )
    app = create_app(settings)
    server = AppServer(app, free_port())
    server.start()
    try:
        state = app.state.cds
        recorder = RecordingEvaluator(state.evaluator)
        state.evaluator = recorder
        service = Service(server, recorder, settings.prefetch_deadline_seconds, directory)
        _warm_up(ehr, service)
        yield service
    finally:
        server.stop()


def _warm_up(ehr: EhrClient, service: Service) -> None:
    """One complete call, so that first-call costs (JWKS fetch, imports) are not timed."""
    body = ehr.hook_request(
        "order-sign",
        patient_id="pat-1",
        fhir_server=None,
        prefetch={"medicationRequests": {"resourceType": "Bundle", "type": "searchset"}},
    )
    result = ehr.call(service.url("opioid-order-sign"), body)
    assert result.status == 200, result.body


@pytest.fixture(scope="module")
def service(ehr: EhrClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The service with the default deadline (2 s) and FHIR timeout (1.5 s)."""
    with _serve(ehr, tmp_path_factory.mktemp("prefetch-service")) as running:
        yield running


@pytest.fixture(scope="module")
def short_deadline_service(
    ehr: EhrClient, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    """The service with a deadline (0.5 s) shorter than its FHIR timeout (1.5 s)."""
    directory = tmp_path_factory.mktemp("prefetch-service-short")
    with _serve(ehr, directory, prefetch_deadline_seconds=0.5, fhir_timeout_seconds=1.5) as running:
        yield running
