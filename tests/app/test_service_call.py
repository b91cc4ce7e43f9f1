from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.db import migrate
from app.evaluation import load_evaluator
from app.main import create_app
from app.settings import Settings
from app.warmup import warm_up
from tests.conftest import fresh_postgres_database
from tests.sample_requests import hook_request


def _assert_conformant_response(body: dict[str, Any]) -> None:
    """The CDS Hooks 2.0 MUSTs for a service response."""
    assert isinstance(body["cards"], list)
    for card in body["cards"]:
        assert 0 < len(card["summary"]) < 140
        assert card["indicator"] in ("info", "warning", "critical")
        assert card["source"]["label"]
        if card.get("suggestions"):
            assert card["selectionBehavior"] in ("at-most-one", "any")
            for suggestion in card["suggestions"]:
                assert suggestion["label"]
                for action in suggestion.get("actions", []):
                    assert action["type"] in ("create", "update", "delete")
                    assert action["description"]
                    if action["type"] in ("create", "update"):
                        assert action["resource"]["resourceType"]
        for reason in card.get("overrideReasons", []):
            assert reason["display"] and reason["code"] and reason["system"]
        for link in card.get("links", []):
            assert link["label"] and link["url"] and link["type"] in ("absolute", "smart")

    def no_empty(value: object, path: str) -> None:
        assert value is not None and value != "" and value != {}, path
        if isinstance(value, dict):
            for key, item in value.items():
                no_empty(item, f"{path}.{key}")
        elif isinstance(value, list):
            assert value or path == "$.cards", path
            for index, item in enumerate(value):
                no_empty(item, f"{path}[{index}]")

    no_empty(body, "$")


@pytest.mark.parametrize(
    ("service_id", "hook"),
    [
        ("opioid-order-sign", "order-sign"),
        ("opioid-order-select", "order-select"),
        ("opioid-patient-view", "patient-view"),
    ],
)
def test_a_valid_request_gets_a_conformant_200(
    client: TestClient, service_id: str, hook: str
) -> None:
    response = client.post(f"/cds-services/{service_id}", json=hook_request(hook))

    assert response.status_code == 200, response.text
    _assert_conformant_response(response.json())
    assert response.headers["server-timing"].startswith("cds;dur=")


def test_sandbox_shaped_order_select_without_medication_gets_no_cards(client: TestClient) -> None:
    # What the CDS Hooks sandbox sends when the prescribing screen opens: a Bundle without
    # `type` and a MedicationRequest that has no medication, intent or dosage yet.
    request = hook_request("order-select")
    request["context"]["draftOrders"] = {
        "resourceType": "Bundle",
        "entry": [
            {
                "resource": {
                    "resourceType": "MedicationRequest",
                    "id": "draft-1",
                    "status": "draft",
                    "subject": {"reference": "Patient/pat-1"},
                    "authoredOn": "2026-11-22",
                    "category": {"text": "outpatient"},
                    "reasonCode": {"text": "pijn"},
                }
            }
        ],
    }
    request.pop("prefetch")

    response = client.post("/cds-services/opioid-order-select", json=request)

    assert response.status_code == 200, response.text
    assert response.json() == {"cards": []}


def test_unknown_extra_fields_are_ignored(client: TestClient) -> None:
    request = hook_request("order-sign", somethingNew={"a": 1})
    request["extension"] = {"com.example": {"x": 1}}

    assert client.post("/cds-services/opioid-order-sign", json=request).status_code == 200


def _outcome(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert body["resourceType"] == "OperationOutcome"
    issue: dict[str, Any] = body["issue"][0]
    return issue


def test_malformed_json_is_a_400_operation_outcome(client: TestClient) -> None:
    response = client.post(
        "/cds-services/opioid-order-sign",
        content=b'{"hook": "order-sign",',
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert "not valid JSON" in _outcome(response)["diagnostics"]


def test_missing_context_field_is_named(client: TestClient) -> None:
    request = hook_request("order-select")
    del request["context"]["selections"]

    response = client.post("/cds-services/opioid-order-select", json=request)

    assert response.status_code == 400
    assert "context.selections" in _outcome(response)["diagnostics"]


def test_hook_that_does_not_match_the_service_is_a_400(client: TestClient) -> None:
    response = client.post("/cds-services/opioid-order-select", json=hook_request("order-sign"))

    assert response.status_code == 400
    assert "order-select" in _outcome(response)["diagnostics"]


def test_unknown_service_is_a_404(client: TestClient) -> None:
    response = client.post("/cds-services/no-such-service", json=hook_request())

    assert response.status_code == 404
    assert _outcome(response)["code"] == "not-found"


def test_fhir_authorization_without_fhir_server_is_a_400(client: TestClient) -> None:
    request = hook_request()
    request["fhirAuthorization"] = {
        "access_token": "secret-token",
        "token_type": "Bearer",
        "expires_in": 30,
        "scope": "patient/*.read",
        "subject": "opioid-cds",
    }

    response = client.post("/cds-services/opioid-order-sign", json=request)

    assert response.status_code == 400
    assert "secret-token" not in response.text


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["database"] == "ok"
    assert client.get("/docs").status_code == 200


def _readiness_before_and_after_migrating(database_url: str) -> tuple[Any, Any]:
    settings = Settings(database_url=database_url, environment="development")
    with TestClient(create_app(settings)) as fresh:
        before = fresh.get("/readyz")
        migrate(database_url)
        after = fresh.get("/readyz")
    return before, after


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_a_replica_is_not_ready_until_the_schema_is_migrated(backend: str, sqlite_url: str) -> None:
    """Replicas never migrate at start (`opioid-cds migrate` runs once per release), so one
    that starts first stays out of the load balancer rather than failing calls."""
    if backend == "sqlite":
        before, after = _readiness_before_and_after_migrating(sqlite_url)
    else:
        with fresh_postgres_database("opioid_cds_ready") as url:
            before, after = _readiness_before_and_after_migrating(url)

    assert (before.status_code, before.json()["database"]) == (503, "not migrated")
    assert (after.status_code, after.json()["database"]) == (200, "ok")


def test_a_body_over_the_limit_is_refused(client: TestClient) -> None:
    from app.pipeline import MAX_BODY_BYTES

    oversized = b'{"hook": "' + b"x" * (MAX_BODY_BYTES + 1) + b'"}'

    for path in ("/cds-services/opioid-order-sign", "/cds-services/opioid-order-sign/feedback"):
        response = client.post(
            path, content=oversized, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 413
        assert _outcome(response)["code"] == "too-costly"
        assert "larger than" in _outcome(response)["diagnostics"]


@pytest.mark.parametrize("encoding", ["gzip", "br", "deflate"])
def test_a_compressed_body_is_refused_with_415(client: TestClient, encoding: str) -> None:
    """A compressed body is refused as such, not misread as "not UTF-8"."""
    import gzip

    body = gzip.compress(b'{"hook": "order-sign"}')
    for path in ("/cds-services/opioid-order-sign", "/cds-services/opioid-order-sign/feedback"):
        response = client.post(
            path,
            content=body,
            headers={"Content-Type": "application/json", "Content-Encoding": encoding},
        )
        assert response.status_code == 415
        assert f"Content-Encoding: {encoding}" in _outcome(response)["diagnostics"]


def test_start_up_warm_up_runs_the_card_paths_a_first_call_needs() -> None:
    """The warm-up must keep exercising cards with update and referral suggestions, or the first
    GP after a restart pays their one-time set-up again."""
    fired = asyncio.run(warm_up(load_evaluator(Settings())))
    assert {"gp-duration-limit", "repeat-prescription", "chronic-use"} <= set(fired)
