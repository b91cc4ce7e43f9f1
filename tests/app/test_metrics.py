"""`GET /metrics` after real hook calls: each metric moves by what the calls did, with the
labels an operator filters on, and nothing a client chose freely becomes a label."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from app.audit import AuditEvent, AuditWriter
from app.audit_journal import AuditJournal
from app.db import migrate
from app.main import create_app
from app.metrics import ServiceMetrics
from app.settings import PROJECT_ROOT, ConfigurationError, Settings, settings_from_environment
from cds_hooks.errors import AUTH_FAILURE_REASONS
from rules.fixtures import FIXTURES_DIR, load_fixture
from rules.hooks import ORDER_SIGN
from tests.cds_hooks.auth.authkit import ISSUER, SigningKey, claims, jwks, sign
from tests.sample_requests import hook_request

METRICS_TOKEN = "metrics-token-for-the-tests"
SERVICE_ROUTE = "/cds-services/{service_id}"


def scrape(client: TestClient, token: str | None = None) -> str:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    text: str = response.text
    return text


def value(text: str, name: str, **labels: str) -> float:
    """The sample `name{labels}` of a scrape; 0 when the series does not exist yet."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


def label_values(text: str, label: str) -> set[str]:
    return {
        sample.labels[label]
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if label in sample.labels
    }


@pytest.fixture
def metered(sqlite_url: str) -> Iterator[TestClient]:
    migrate(sqlite_url)
    settings = Settings(database_url=sqlite_url, trusted_clients=None, metrics=True)
    with TestClient(create_app(settings)) as client:
        yield client


# ------------------------------------------------------------------------------ hook calls


def test_cards_per_rule_are_the_cards_the_calls_returned(metered: TestClient) -> None:
    returned: Counter[tuple[str, str]] = Counter()
    for name in ("bony-pain-strong-opioid", "benzodiazepine-with-active-opioid"):
        request, expectation = load_fixture(FIXTURES_DIR / f"{name}.json")
        for _ in range(2):
            response = metered.post(f"/cds-services/{expectation.service}", json=request)
            assert response.status_code == 200, response.text
            for card in response.json()["cards"]:
                returned[(expectation.service, card["source"]["topic"]["code"])] += 1

    text = scrape(metered)
    # The fixtures' own rules fired twice each, and every card sent was counted once.
    assert returned[("opioid-order-select", "bony-musculoskeletal-pain")] == 2
    assert returned[("opioid-order-select", "opioid-sedative-combination")] == 2
    for (service, rule), count in returned.items():
        assert value(text, "opioid_cds_cards_total", service=service, rule=rule) == count
    counted = sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "opioid_cds_cards_total"
    )
    assert counted == sum(returned.values())


def test_latency_is_counted_per_service_and_status(metered: TestClient) -> None:
    for _ in range(3):
        metered.post("/cds-services/opioid-order-sign", json=hook_request("order-sign"))
    metered.post("/cds-services/opioid-patient-view", content=b"{not json")
    metered.post("/cds-services/pat-4711-is-no-service", json={})

    text = scrape(metered)
    signed = {"route": SERVICE_ROUTE, "service": "opioid-order-sign", "status": "200"}
    assert value(text, "opioid_cds_request_duration_seconds_count", **signed) == 3
    assert value(text, "opioid_cds_request_duration_seconds_bucket", le="+Inf", **signed) == 3
    assert 0 < value(text, "opioid_cds_request_duration_seconds_sum", **signed) < 30
    bad = {"route": SERVICE_ROUTE, "service": "opioid-patient-view", "status": "400"}
    assert value(text, "opioid_cds_request_duration_seconds_count", **bad) == 1
    unknown = {"route": SERVICE_ROUTE, "service": "unknown", "status": "404"}
    assert value(text, "opioid_cds_request_duration_seconds_count", **unknown) == 1
    # An id the client made up is no label.
    assert "pat-4711" not in text
    assert label_values(text, "service") <= {
        "opioid-order-sign",
        "opioid-order-select",
        "opioid-patient-view",
        "unknown",
        "",
    }


def test_prefetch_fetches_and_failures_are_counted_per_key(
    metered: TestClient, fhir_server: str
) -> None:
    request = hook_request("order-sign", userId="Practitioner/gp-1")
    request["fhirServer"] = fhir_server
    del request["prefetch"]["patient"]  # fetched: a read, which this server fails

    response = metered.post("/cds-services/opioid-order-sign", json=request)

    assert response.status_code == 200, response.text
    text = scrape(metered)
    assert value(text, "opioid_cds_prefetch_fetches_total", key="patient") == 1
    assert value(text, "opioid_cds_prefetch_fetch_failures_total", key="patient") == 1
    searched = set(ORDER_SIGN.prefetch) - {"patient", "medicationRequests"}
    assert searched  # the history searches
    for key in searched:
        assert value(text, "opioid_cds_prefetch_fetches_total", key=key) == 1, key
        assert value(text, "opioid_cds_prefetch_fetch_failures_total", key=key) == 0, key
    # Prefetched by the client: not fetched at all.
    assert value(text, "opioid_cds_prefetch_fetches_total", key="medicationRequests") == 0


# ---------------------------------------------------------------------------- JWT rejections


@pytest.fixture(scope="module")
def es384_key() -> SigningKey:
    return SigningKey("metrics-es384", "ES384", ec.generate_private_key(ec.SECP384R1()))


@pytest.fixture
def production(sqlite_url: str, tmp_path: Path, es384_key: SigningKey) -> Iterator[TestClient]:
    trust_file = tmp_path / "trusted-clients.json"
    trust_file.write_text(json.dumps({"clients": [{"iss": ISSUER, "jwks": jwks(es384_key)}]}))
    migrate(sqlite_url)
    settings = Settings(
        database_url=sqlite_url,
        environment="production",
        audit_secret="a-test-audit-secret-of-some-length",
        trusted_clients=trust_file,
        metrics=True,
        metrics_token=METRICS_TOKEN,
    )
    with TestClient(create_app(settings)) as client:
        yield client


def test_a_rejected_jwt_counts_its_reason(production: TestClient, es384_key: SigningKey) -> None:
    path = "/cds-services/opioid-order-sign"
    body = hook_request("order-sign")

    def post(token: str | None) -> int:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        status: int = production.post(path, json=body, headers=headers).status_code
        return status

    good = sign(es384_key, claims(aud=f"http://testserver{path}"))
    assert post(good) == 200
    assert post(good) == 401  # replay
    assert post(None) == 401
    assert post(sign(es384_key, claims(aud="http://testserver/elsewhere"))) == 401
    for _ in range(2):
        stranger = claims(aud=f"http://testserver{path}", iss="https://unknown-ehr.test")
        assert post(sign(es384_key, stranger)) == 401
    expired = claims(aud=f"http://testserver{path}", exp=int(time.time()) - 3600)
    assert post(sign(es384_key, expired)) == 401

    text = scrape(production, METRICS_TOKEN)
    counts = {
        reason: value(text, "opioid_cds_jwt_rejections_total", reason=reason)
        for reason in label_values(text, "reason")
    }
    assert set(counts) == set(AUTH_FAILURE_REASONS)  # all there from the start, at 0
    rejected = {reason: count for reason, count in counts.items() if count}
    assert rejected == {
        "replay": 1,
        "missing-token": 1,
        "audience": 1,
        "untrusted-issuer": 2,
        "expired": 1,
    }
    assert "unknown-ehr" not in text  # the issuer a token claimed is no label


# ------------------------------------------------------------------------------ the audit


def test_the_audit_backlog_is_read_at_scrape_time(sqlite_url: str, tmp_path: Path) -> None:
    # Journalled but not started: nothing ships the events (nor connects to the database).
    journal = AuditJournal(tmp_path / "journal")
    writer = AuditWriter(async_sessionmaker(create_async_engine(sqlite_url)), journal)
    journal.open()
    metrics = ServiceMetrics()
    metrics.watch_audit(writer)
    event = AuditEvent("opioid-order-sign", "order-sign", "h-1", None, [], [], 1.0)
    for _ in range(3):
        writer.record(event)

    text = generate_latest(metrics.registry).decode()

    assert value(text, "opioid_cds_audit_queue_depth") == 3
    assert value(text, "opioid_cds_audit_events_dropped_total") == 0


def test_audit_events_the_database_refuses_wait_in_the_backlog(
    sqlite_url: str, tmp_path: Path
) -> None:
    # Never migrated: every insert fails, as with a database that is down; the events stay in
    # the journal (the backlog) rather than being lost.
    settings = Settings(
        database_url=sqlite_url,
        trusted_clients=None,
        metrics=True,
        audit_journal_dir=tmp_path / "journal",
    )
    with TestClient(create_app(settings)) as client:
        for _ in range(2):
            client.post("/cds-services/opioid-order-sign", json=hook_request("order-sign"))
        text = scrape(client)
    assert value(text, "opioid_cds_audit_queue_depth") == 2
    assert value(text, "opioid_cds_audit_events_dropped_total") == 0


# ------------------------------------------------------------------------------ access


def test_metrics_are_off_unless_asked(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 404


def test_with_a_token_only_the_token_opens_the_metrics(production: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer not-the-metrics-token"}):
        response = production.get("/metrics", headers=headers)
        assert response.status_code == 401
        assert response.json()["resourceType"] == "OperationOutcome"
        assert "opioid_cds" not in response.text
    assert "opioid_cds_request_duration_seconds" in scrape(production, METRICS_TOKEN)


def test_production_refuses_metrics_without_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPIOID_CDS_ENVIRONMENT", "production")
    monkeypatch.setenv("OPIOID_CDS_AUDIT_SECRET", "a-test-audit-secret-of-some-length")
    monkeypatch.setenv("OPIOID_CDS_DATABASE_URL", "postgresql+asyncpg://cds@db:5432/opioid_cds")
    monkeypatch.setenv(
        "OPIOID_CDS_TRUSTED_CLIENTS",
        str(PROJECT_ROOT / "config" / "trusted-clients.development.yaml"),
    )
    monkeypatch.setenv("OPIOID_CDS_METRICS", "true")

    with pytest.raises(ConfigurationError) as refused:
        settings_from_environment()

    assert refused.value.problems == [
        "OPIOID_CDS_METRICS_TOKEN: must be set when OPIOID_CDS_METRICS=true in production: the "
        "metrics are served only with that bearer token"
    ]
    monkeypatch.setenv("OPIOID_CDS_METRICS_TOKEN", METRICS_TOKEN)
    assert settings_from_environment().metrics
