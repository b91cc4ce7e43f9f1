"""The JWT replay store in the database, so every replica sees every `jti`.

A `jti` is stored as sha256(iss + "\\n" + jti) in `seen_jwt_ids`; its primary key makes the
INSERT itself the check: the second INSERT of the same id fails with an IntegrityError on
SQLite and on PostgreSQL alike, however many requests race. An entry whose token has
expired may be taken over (an UPDATE guarded by `expires_at < now`, also atomic), and
expired rows are deleted every `purge_interval` seconds by whichever request comes by.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime

import structlog
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import SeenJwtId
from cds_hooks.failures import failure_fields

__all__ = ["SqlReplayStore", "jti_hash"]

log = structlog.get_logger(__name__)


def jti_hash(issuer: str, jti: str) -> str:
    return hashlib.sha256(f"{issuer}\n{jti}".encode()).hexdigest()


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("replay store times must be timezone-aware")
    return moment.astimezone(UTC)


class SqlReplayStore:
    """`cds_hooks.auth.ReplayStore` on the `seen_jwt_ids` table."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        purge_interval: float = 60.0,
    ) -> None:
        self._sessions = session_factory
        self._purge_interval = purge_interval
        self._last_purge = float("-inf")

    async def remember(self, jti: str, issuer: str, expires_at: datetime) -> bool:
        key = jti_hash(issuer, jti)
        expires_at = _utc(expires_at)
        now = datetime.now(UTC)
        if time.monotonic() - self._last_purge >= self._purge_interval:
            self._last_purge = time.monotonic()
            try:
                await self.purge_expired(now)
            except Exception as exc:  # a failed purge must not fail the request
                log.warning("replay store purge failed", **failure_fields(exc))
        try:
            async with self._sessions.begin() as session:
                session.add(SeenJwtId(jti_hash=key, expires_at=expires_at))
            return True
        except IntegrityError:
            pass
        # Seen before. Only an entry whose token has expired may be taken over.
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(SeenJwtId)
                .where(SeenJwtId.jti_hash == key, SeenJwtId.expires_at < now)
                .values(expires_at=expires_at)
                .execution_options(synchronize_session=False)
            )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def purge_expired(self, now: datetime) -> int:
        async with self._sessions.begin() as session:
            result = await session.execute(
                delete(SeenJwtId)
                .where(SeenJwtId.expires_at < _utc(now))
                .execution_options(synchronize_session=False)
            )
        purged = int(getattr(result, "rowcount", 0) or 0)
        if purged:
            log.info("replay store purged", rows=purged)
        return purged
