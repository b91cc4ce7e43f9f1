"""A known history for the report tests, fed through the HTTP API: fixtures posted in three
batches (before the agreements, the first months after, today) and feedback on the cards.

Each batch is one service run: leaving the TestClient stops the audit writer, which stores
everything queued. The earlier batches' rows are then moved back in time (the service always
records "now"), which is the only thing the tests write to the database themselves.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import create_async_engine

from app.db import ReportCard, ReportOrder
from app.main import create_app
from app.playground import load_fixture_request, rule_ids_of
from app.settings import Settings

WITHIN = "common-path-oxycodon-mga-5-days"  # 01999010, 5 days, long-acting, indication
OUTSIDE = "gp-duration-14-days"  # 01999010, 14 days: outside the region's 7
PRACTICE_MAX_5 = "gp-6-days-practice-max-5"  # 01999002 (overlay max_days 5): 6 days outside
REGION_DEFAULT = "gp-6-days-region-default"  # 01999010: the same 6 days, within 7
SMALL_PRACTICE = "01999002"
BIG_PRACTICE = "01999010"
DURATION_RULE = "gp-duration-limit"

BEFORE_DAYS_AGO = 200
FIRST_MONTHS_DAYS_AGO = 60
BASELINE_DAYS_AGO = 150


@dataclass
class Posted:
    """What the service answered, to compare the report with."""

    cards_by_rule: Counter[str] = field(default_factory=Counter)
    orders: int = 0


def _post_batch(
    database_url: str, names: list[str], posted: Posted, overrides: int = 0, accepts: int = 0
) -> None:
    """Post the fixtures; override the first `overrides` duration cards, accept the next
    `accepts` (with their first suggestion)."""
    settings = Settings(database_url=database_url, trusted_clients=None, log_level="WARNING")
    with TestClient(create_app(settings)) as client:
        for name in names:
            request, info = load_fixture_request(name, today=date.today())
            response = client.post(f"/cds-services/{info.service}", json=request)
            assert response.status_code == 200, response.text
            body = response.json()
            posted.orders += 1
            posted.cards_by_rule.update(rule_ids_of(body))
            for card in body["cards"]:
                if rule_ids_of({"cards": [card]}) != [DURATION_RULE]:
                    continue
                if overrides:
                    overrides -= 1
                    item: dict[str, Any] = {
                        "card": card["uuid"],
                        "outcome": "overridden",
                        "overrideReason": {
                            "reason": card["overrideReasons"][0],
                            "userComment": "mevr. Jansen wil liever 6 dagen",
                        },
                    }
                elif accepts:
                    accepts -= 1
                    item = {
                        "card": card["uuid"],
                        "outcome": "accepted",
                        "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}],
                    }
                else:
                    continue
                item["outcomeTimestamp"] = datetime.now(UTC).isoformat()
                feedback = client.post(f"/cds-services/{info.service}/feedback", json=item)
                assert feedback.json()["stored"] == 1


def _move_back(database_url: str, days: int) -> None:
    """Move every report row recorded so far `days` back (rows already moved move again,
    so batches are posted oldest first and moved by the difference)."""

    async def run() -> None:
        engine = create_async_engine(database_url)
        try:
            async with engine.begin() as connection:
                for table in (ReportOrder, ReportCard):
                    rows = (await connection.execute(select(table.id, table.evaluated_at))).all()
                    for row_id, at in rows:
                        await connection.execute(
                            update(table)
                            .where(table.id == row_id)
                            .values(evaluated_at=at - timedelta(days=days))
                        )
        finally:
            await engine.dispose()

    asyncio.run(run())


def feed_history(database_url: str) -> Posted:
    """Before the agreements (200 days ago): 3 within, 6 outside. The first months (60 days
    ago): 6 within, 2 outside. Today: 6 orders of the small practice (outside its own 5 days;
    4 duration cards overridden with a comment, 2 accepted) and 5 of 6 days in the big one
    (within the region's 7)."""
    posted = Posted()
    _post_batch(database_url, [WITHIN] * 3 + [OUTSIDE] * 6, posted)
    _move_back(database_url, BEFORE_DAYS_AGO - FIRST_MONTHS_DAYS_AGO)
    _post_batch(database_url, [WITHIN] * 6 + [OUTSIDE] * 2, posted)
    _move_back(database_url, FIRST_MONTHS_DAYS_AGO)
    _post_batch(
        database_url,
        [PRACTICE_MAX_5] * 6 + [REGION_DEFAULT] * 5,
        posted,
        overrides=4,
        accepts=2,
    )
    return posted
