"""Storing feedback, and pseudonymising patient ids for the audit trail.

Feedback is idempotent: every item gets a key derived from its content, and a second post of
the same item is ignored by the database itself (ON CONFLICT DO NOTHING), so concurrent
replicas cannot store it twice.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection, Sequence
from datetime import UTC, datetime

import orjson
from sqlalchemy import Insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import FeedbackRecord
from cds_hooks.models import Feedback
from rules.cards import OVERRIDE_REASON_SYSTEM

__all__ = ["pseudonymise_patient", "store_feedback"]


def pseudonymise_patient(patient_id: str | None, secret: str) -> str | None:
    """HMAC-SHA256 of the patient id: stable for one deployment, not reversible without the
    secret."""
    if not patient_id:
        return None
    return hmac.new(secret.encode(), patient_id.encode(), hashlib.sha256).hexdigest()


def _parse_timestamp(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _dedup_key(service_id: str, item: Feedback) -> str:
    reason = item.override_reason
    canonical = {
        "service": service_id,
        "card": item.card,
        "outcome": item.outcome,
        "accepted": sorted(suggestion.id for suggestion in item.accepted_suggestions),
        "reason": [reason.reason.system, reason.reason.code] if reason and reason.reason else None,
        "comment": (reason.user_comment or "") if reason else "",
        "at": _parse_timestamp(item.outcome_timestamp).isoformat(),
    }
    return hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _insert_ignoring_duplicates(dialect_name: str) -> Insert:
    if dialect_name == "postgresql":
        return postgresql.insert(FeedbackRecord).on_conflict_do_nothing(
            index_elements=["dedup_key"]
        )
    return sqlite.insert(FeedbackRecord).on_conflict_do_nothing(index_elements=["dedup_key"])


UNKNOWN_REASON_CODE = "(not one of the card's reasons)"
"""Stored instead of an override reason code the cards never offer: a client may send any
text there, and free text about a patient must not be stored."""


def _storable_reason(
    system: str | None, code: str | None, known_codes: Collection[str]
) -> tuple[str | None, str | None]:
    if code is None:
        return None, None
    if system == OVERRIDE_REASON_SYSTEM and code in known_codes:
        return system, code
    return None, UNKNOWN_REASON_CODE


async def store_feedback(
    session_factory: async_sessionmaker[AsyncSession],
    service_id: str,
    items: Sequence[Feedback],
    known_reason_codes: Collection[str],
) -> int:
    """Store the items not stored before; return how many were new. An override reason is
    stored only as one of `known_reason_codes` (the rule set's), or as unknown."""
    received_at = datetime.now(UTC)
    rows = []
    for item in items:
        reason = item.override_reason.reason if item.override_reason else None
        reason_system, reason_code = _storable_reason(
            reason.system if reason else None, reason.code if reason else None, known_reason_codes
        )
        rows.append(
            {
                "dedup_key": _dedup_key(service_id, item),
                "service_id": service_id,
                "card_uuid": item.card,
                "outcome": item.outcome,
                "accepted_suggestions": [s.id for s in item.accepted_suggestions],
                "override_reason_system": reason_system,
                "override_reason_code": reason_code,
                "has_user_comment": bool(
                    item.override_reason and item.override_reason.user_comment
                ),
                "outcome_timestamp": _parse_timestamp(item.outcome_timestamp),
                "received_at": received_at,
            }
        )
    async with session_factory() as session:
        dialect_name = session.get_bind().dialect.name
        stored = 0
        for row in rows:
            result = await session.execute(_insert_ignoring_duplicates(dialect_name).values(row))
            stored += max(result.rowcount or 0, 0)  # type: ignore[attr-defined]
        await session.commit()
    return stored
