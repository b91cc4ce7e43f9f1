"""No body, however malformed, may produce a 5xx: generated bodies against every endpoint."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.db import migrate
from app.main import create_app
from app.settings import Settings
from tests.sample_requests import hook_request

ENDPOINTS = [
    ("POST", "/cds-services/opioid-order-select"),
    ("POST", "/cds-services/opioid-order-sign"),
    ("POST", "/cds-services/opioid-patient-view"),
    ("POST", "/cds-services/opioid-order-sign/feedback"),
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


def _mutations() -> st.SearchStrategy[Any]:
    """Valid requests with one part replaced by something of the wrong shape."""
    paths = st.sampled_from(
        [
            ("hook",),
            ("hookInstance",),
            ("context",),
            ("prefetch",),
            ("fhirServer",),
            ("fhirAuthorization",),
            ("context", "userId"),
            ("context", "patientId"),
            ("context", "draftOrders"),
            ("context", "selections"),
            ("context", "encounterId"),
            ("context", "draftOrders", "entry"),
            ("context", "draftOrders", "resourceType"),
            ("prefetch", "medicationRequests"),
            ("prefetch", "patient"),
        ]
    )
    hooks = st.sampled_from(["order-select", "order-sign", "patient-view"])

    @st.composite
    def mutate(draw: st.DrawFn) -> Any:
        request: dict[str, Any] = hook_request(draw(hooks))
        path = draw(paths)
        target: Any = request
        for part in path[:-1]:
            target = target.setdefault(part, {}) if isinstance(target, dict) else {}
        if isinstance(target, dict):
            target[path[-1]] = draw(json_values)
        return request

    return mutate()


@pytest.fixture(scope="module")
def fuzz_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('fuzz') / 'fuzz.sqlite3'}"
    migrate(url)
    with TestClient(create_app(Settings(database_url=url, trusted_clients=None))) as client:
        yield client


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.one_of(json_values, _mutations()))
def test_generated_json_bodies_never_give_a_5xx(
    fuzz_client: TestClient, method: str, path: str, body: Any
) -> None:
    response = fuzz_client.request(
        method, path, content=json.dumps(body), headers={"Content-Type": "application/json"}
    )

    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.binary(max_size=200))
def test_arbitrary_bytes_are_a_4xx(
    fuzz_client: TestClient, method: str, path: str, raw: bytes
) -> None:
    response = fuzz_client.request(
        method, path, content=raw, headers={"Content-Type": "application/json"}
    )

    assert 400 <= response.status_code < 500, response.text
