"""Reading a period's report rows back: evaluated orders, cards, and the feedback on those
cards. Feedback is counted with its card (the card's time and practice), so "overridden in
March" means "of the cards shown in March"."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import FeedbackRecord, ReportCard, ReportOrder
from app.store import UNKNOWN_REASON_CODE
from rules.cards import OVERRIDE_REASON_SYSTEM

__all__ = ["CardRow", "FeedbackRow", "OrderRow", "Rows", "load_rows"]


@dataclass(frozen=True, slots=True)
class OrderRow:
    at: datetime
    practice: str | None
    prescriber_role: str
    release_type: str
    duration_days: int | None
    duration_indefinite: bool
    has_indication: bool
    repeats_allowed: int
    gp_max_days: int | None


@dataclass(frozen=True, slots=True)
class CardRow:
    at: datetime
    practice: str | None
    rule_id: str


@dataclass(frozen=True, slots=True)
class FeedbackRow:
    at: datetime
    """The time of the card it is about."""
    practice: str | None
    rule_id: str
    outcome: str
    reason_code: str | None


@dataclass(frozen=True)
class Rows:
    orders: list[OrderRow]
    cards: list[CardRow]
    feedback: list[FeedbackRow]


def day_bounds(since: date | None, until: date | None, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[start of `since`, start of the day after `until`) where the GPs are."""
    start = datetime.combine(since or date(1970, 1, 1), time(), zone)
    end = datetime.combine((until or date(9999, 12, 30)) + timedelta(days=1), time(), zone)
    return start, end


_REASON_CODE: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
UNRECOGNISED_REASON: Final = UNKNOWN_REASON_CODE  # what the store keeps for such a code


def _reason_code(system: str | None, code: str | None) -> str | None:
    """A feedback's override reason as the report may name it. A client may post any code of
    up to 100 characters (free text about the patient, "=HYPERLINK(...)" for a spreadsheet);
    only a code of the cards' own reason system and shape is shown, anything else is counted
    under one fixed label."""
    if code is None:
        return None
    if system == OVERRIDE_REASON_SYSTEM and _REASON_CODE.fullmatch(code):
        return code
    return UNRECOGNISED_REASON


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were stored in UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


async def load_rows(
    engine: AsyncEngine, since: date | None, until: date | None, zone: ZoneInfo
) -> Rows:
    start, end = day_bounds(since, until, zone)
    orders_query = select(
        ReportOrder.evaluated_at,
        ReportOrder.practice_agb,
        ReportOrder.prescriber_role,
        ReportOrder.release_type,
        ReportOrder.duration_days,
        ReportOrder.duration_indefinite,
        ReportOrder.has_indication,
        ReportOrder.repeats_allowed,
        ReportOrder.gp_max_days,
    ).where(ReportOrder.evaluated_at >= start, ReportOrder.evaluated_at < end)
    cards_query = select(
        ReportCard.evaluated_at, ReportCard.practice_agb, ReportCard.rule_id
    ).where(ReportCard.evaluated_at >= start, ReportCard.evaluated_at < end)
    feedback_query = (
        select(
            ReportCard.evaluated_at,
            ReportCard.practice_agb,
            ReportCard.rule_id,
            FeedbackRecord.outcome,
            FeedbackRecord.override_reason_system,
            FeedbackRecord.override_reason_code,
        )
        .join(FeedbackRecord, FeedbackRecord.card_uuid == ReportCard.card_uuid)
        .where(ReportCard.evaluated_at >= start, ReportCard.evaluated_at < end)
    )
    async with engine.connect() as connection:
        orders = [
            OrderRow(_aware(row[0]), *row[1:]) for row in await connection.execute(orders_query)
        ]
        cards = [
            CardRow(_aware(row[0]), row[1], row[2]) for row in await connection.execute(cards_query)
        ]
        feedback = [
            FeedbackRow(_aware(row[0]), row[1], row[2], row[3], _reason_code(row[4], row[5]))
            for row in await connection.execute(feedback_query)
        ]
    return Rows(orders, cards, feedback)
