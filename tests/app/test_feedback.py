from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from app.db import FeedbackRecord, migrate
from app.main import create_app
from app.settings import Settings

FEEDBACK_URL = "/cds-services/opioid-order-sign/feedback"


@pytest.fixture
def store_client(database_url: str) -> Iterator[TestClient]:
    migrate(database_url)
    settings = Settings(database_url=database_url, trusted_clients=None)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _rows(database_url: str, card_uuid: str) -> list[FeedbackRecord]:
    async def query() -> list[FeedbackRecord]:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as connection:
                result = await connection.execute(
                    select(FeedbackRecord).where(FeedbackRecord.card_uuid == card_uuid)
                )
                return list(result.all())  # type: ignore[arg-type]
        finally:
            await engine.dispose()

    return asyncio.run(query())


def _overridden(card_uuid: str, comment: str | None = None) -> dict[str, Any]:
    reason: dict[str, Any] = {
        "reason": {
            "system": "urn:opioid-cds:override-reason",
            "code": "palliative-care",
            "display": "Palliatieve zorg",
        }
    }
    if comment:
        reason["userComment"] = comment
    return {
        "card": card_uuid,
        "outcome": "overridden",
        "overrideReason": reason,
        "outcomeTimestamp": "2026-11-22T10:15:30.52Z",
    }


def test_the_same_feedback_posted_twice_is_stored_once(
    store_client: TestClient, database_url: str
) -> None:
    card_uuid = str(uuid.uuid4())
    body = {"feedback": [_overridden(card_uuid)]}

    first = store_client.post(FEEDBACK_URL, json=body)
    second = store_client.post(FEEDBACK_URL, json=body)

    assert first.status_code == 200 and second.status_code == 200
    assert first.json() == {"received": 1, "stored": 1}
    assert second.json() == {"received": 1, "stored": 0}
    rows = _rows(database_url, card_uuid)
    assert len(rows) == 1
    assert rows[0].override_reason_code == "palliative-care"


def test_distinct_feedback_on_one_card_is_kept(store_client: TestClient, database_url: str) -> None:
    card_uuid = str(uuid.uuid4())
    suggestion = str(uuid.uuid4())
    accepted = {
        "card": card_uuid,
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": suggestion}],
        "outcomeTimestamp": "2026-11-22T10:16:00Z",
    }

    response = store_client.post(
        FEEDBACK_URL, json={"feedback": [_overridden(card_uuid), accepted]}
    )

    assert response.json() == {"received": 2, "stored": 2}
    rows = _rows(database_url, card_uuid)
    assert sorted(row.outcome for row in rows) == ["accepted", "overridden"]
    assert next(r for r in rows if r.outcome == "accepted").accepted_suggestions == [suggestion]


def test_a_bare_feedback_object_is_accepted_as_hapi_sends_it(
    store_client: TestClient, database_url: str
) -> None:
    card_uuid = str(uuid.uuid4())

    response = store_client.post(FEEDBACK_URL, json=_overridden(card_uuid))

    assert response.status_code == 200
    assert len(_rows(database_url, card_uuid)) == 1


def test_the_clinicians_free_text_comment_is_not_stored(
    store_client: TestClient, database_url: str
) -> None:
    card_uuid = str(uuid.uuid4())

    store_client.post(FEEDBACK_URL, json={"feedback": [_overridden(card_uuid, "mevr. Jansen")]})

    (row,) = _rows(database_url, card_uuid)
    assert row.has_user_comment is True
    assert "Jansen" not in repr(row)


@pytest.mark.parametrize(
    ("item", "named"),
    [
        (
            {"card": "c", "outcome": "accepted", "outcomeTimestamp": "2026-11-22T10:00:00Z"},
            "acceptedSuggestions",
        ),
        (
            {"card": "c", "outcome": "ignored", "outcomeTimestamp": "2026-11-22T10:00:00Z"},
            "outcome",
        ),
        (
            {"card": "c", "outcome": "overridden", "outcomeTimestamp": "yesterday"},
            "outcomeTimestamp",
        ),
        (
            {"card": "c", "outcome": "overridden", "outcomeTimestamp": "2026-11-22T10:00:00"},
            "time zone",
        ),
        ({"outcome": "overridden", "outcomeTimestamp": "2026-11-22T10:00:00Z"}, "card"),
        (
            {
                "card": "c" * 101,
                "outcome": "overridden",
                "outcomeTimestamp": "2026-11-22T10:00:00Z",
            },
            "card",
        ),
        (
            {
                "card": "a\u0000b",
                "outcome": "overridden",
                "outcomeTimestamp": "2026-11-22T10:00:00Z",
            },
            "control characters",
        ),
        (
            {"card": "c", "outcome": "overridden", "outcomeTimestamp": "0001-01-01T00:00:00+14:00"},
            "out of range",
        ),
        (
            {
                "card": "c",
                "outcome": "overridden",
                "outcomeTimestamp": "2026-11-22T10:00:00Z",
                "overrideReason": {"reason": {"system": "urn:x", "code": "x" * 101}},
            },
            "code",
        ),
    ],
)
def test_invalid_feedback_is_a_400_naming_the_problem(
    client: TestClient, item: dict[str, Any], named: str
) -> None:
    response = client.post(FEEDBACK_URL, json={"feedback": [item]})

    assert response.status_code == 400
    assert named in response.json()["issue"][0]["diagnostics"]


def test_a_batch_is_limited_to_100_items(client: TestClient) -> None:
    items = [_overridden(str(uuid.uuid4())) for _ in range(101)]

    response = client.post(FEEDBACK_URL, json={"feedback": items})

    assert response.status_code == 400
    assert "100" in response.json()["issue"][0]["diagnostics"]


def test_ids_as_long_as_the_columns_are_stored(store_client: TestClient, database_url: str) -> None:
    card_uuid = "c" * 100
    item = _overridden(card_uuid)
    item["overrideReason"]["reason"]["system"] = "urn:" + "s" * 251

    assert store_client.post(FEEDBACK_URL, json={"feedback": [item]}).status_code == 200
    assert len(_rows(database_url, card_uuid)) == 1


def test_a_database_without_the_schema_is_a_503_not_a_500(sqlite_url: str) -> None:
    settings = Settings(database_url=sqlite_url, trusted_clients=None)  # never migrated
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        response = client.post(FEEDBACK_URL, json={"feedback": [_overridden("card-1")]})

    assert response.status_code == 503
    assert response.json()["issue"][0]["code"] == "transient"


def test_feedback_for_an_unknown_service_is_a_404(client: TestClient) -> None:
    response = client.post("/cds-services/nope/feedback", json={"feedback": []})

    assert response.status_code == 404


def test_an_override_reason_code_the_cards_never_offer_is_not_stored(
    store_client: TestClient, database_url: str
) -> None:
    card_uuid = str(uuid.uuid4())
    made_up = _overridden(card_uuid)
    made_up["overrideReason"]["reason"]["code"] = "mevr-zwartkop-wil-liever-14-dagen"

    store_client.post(FEEDBACK_URL, json={"feedback": [made_up]})

    (row,) = _rows(database_url, card_uuid)
    assert row.override_reason_code == "(not one of the card's reasons)"
    assert row.override_reason_system is None
    assert "zwartkop" not in repr(row).lower()
