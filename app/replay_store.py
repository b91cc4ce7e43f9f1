"""The JWT replay store, shared by every replica: Redis when configured, else the database.

A `jti` is kept as sha256(iss + "\\n" + jti), never as sent, until its token expires.

- `RedisReplayStore` (`OPIOID_CDS_REDIS_URL`): one `SET key NX EX ttl`, atomic however many
  replicas race; Redis forgets the key when the token has expired.
- `SqlReplayStore`: the `seen_jwt_ids` table. One `INSERT … ON CONFLICT DO UPDATE … WHERE`
  per token is the check, atomic on SQLite and PostgreSQL alike: a new id is inserted, an
  entry whose token has expired is taken over, a live one is left as it is (no row changed:
  a replay). Expired rows are deleted every `purge_interval` seconds by whichever request
  comes by. It is cheap because nothing waits for the disk (on PostgreSQL the table is
  UNLOGGED, migration 0003; on SQLite the store commits without fsync) and because the
  statement goes straight to the driver. Both keep what they saw when the service process is
  killed; after a database crash (or power loss, or a PostgreSQL fail-over) tokens seen in
  the last minutes could be replayed until they expire.

A store that cannot be reached raises `ReplayCheckUnavailable` (503): a token that cannot be
checked is refused, never let through.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import sqlite3
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg
import redis.asyncio as redis
import structlog
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn

from app.db import create_engine_for
from app.settings import Settings
from cds_hooks.errors import ReplayCheckUnavailable
from cds_hooks.failures import failure_fields

__all__ = [
    "RedisReplayStore",
    "SharedReplayStore",
    "SqlReplayStore",
    "build_replay_store",
    "jti_hash",
]

log = structlog.get_logger(__name__)

REDIS_TIMEOUT_SECONDS = 1.0
"""How long a call waits for Redis before it is refused with 503 (fail closed)."""


def jti_hash(issuer: str, jti: str) -> str:
    return hashlib.sha256(f"{issuer}\n{jti}".encode()).hexdigest()


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("replay store times must be timezone-aware")
    return moment.astimezone(UTC)


# One statement per token, atomic however many replicas race: a new id is inserted, an id
# whose token has expired is taken over, a live one is left alone (nothing inserted or updated).
_REMEMBER = {
    "postgresql": "INSERT INTO seen_jwt_ids (jti_hash, expires_at) VALUES ($1, $2) "
    "ON CONFLICT (jti_hash) DO UPDATE SET expires_at = EXCLUDED.expires_at "
    "WHERE seen_jwt_ids.expires_at < $3 RETURNING 1",
    "sqlite": "INSERT INTO seen_jwt_ids (jti_hash, expires_at) VALUES (?, ?) "
    "ON CONFLICT (jti_hash) DO UPDATE SET expires_at = excluded.expires_at "
    "WHERE seen_jwt_ids.expires_at < ?",
}
_PURGE = {
    "postgresql": "DELETE FROM seen_jwt_ids WHERE expires_at < $1",
    "sqlite": "DELETE FROM seen_jwt_ids WHERE expires_at < ?",
}
# Errors of the drivers (asyncpg's are OSError or PostgresError, sqlite3's sqlite3.Error),
# and SQLAlchemy's when the pool cannot connect: the store cannot answer.
_UNREACHABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    sqlite3.Error,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    SQLAlchemyError,
)


def _sqlite_time(moment: datetime) -> str:
    """How SQLAlchemy's DateTime stores a moment on SQLite (UTC here), so rows written before
    this store compare as they should."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


class SqlReplayStore:
    """`cds_hooks.auth.ReplayStore` on the `seen_jwt_ids` table.

    A check is one statement, sent on the driver's connection (asyncpg, aiosqlite) from an
    engine of the store's own, outside any transaction and without a pool pre-ping: through
    an ORM session the same check took three to four round trips and 0.6–0.9 ms, now one
    (docs/performance.md, "Signed calls"). A connection that fails is dropped from the pool
    and the call gets 503."""

    def __init__(self, engine: AsyncEngine, *, purge_interval: float = 60.0) -> None:
        if engine.dialect.name not in _REMEMBER:
            raise ValueError(f"no replay store on {engine.dialect.name}")
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._purge_interval = purge_interval
        self._last_purge = float("-inf")

    @classmethod
    def for_database(cls, database_url: str, *, purge_interval: float = 60.0) -> SqlReplayStore:
        """A store with an engine of its own: each statement committed by the driver (on
        SQLite without fsync), no pre-ping, no rollback when a connection returns."""
        return cls(
            create_engine_for(database_url, fsync_commits=False, statements_only=True),
            purge_interval=purge_interval,
        )

    async def remember(self, jti: str, issuer: str, expires_at: datetime) -> bool:
        key = jti_hash(issuer, jti)
        expires_at = _utc(expires_at)
        now = datetime.now(UTC)
        if time.monotonic() - self._last_purge >= self._purge_interval:
            self._last_purge = time.monotonic()
            # A failed purge is logged; the check below tells the caller whether the store works.
            with contextlib.suppress(ReplayCheckUnavailable):
                await self.purge_expired(now)
        if self._postgres:
            return await self._run(_REMEMBER["postgresql"], key, expires_at, now) == 1
        return await self._run(_REMEMBER["sqlite"], key, _sqlite_time(expires_at),
                               _sqlite_time(now)) == 1  # fmt: skip

    async def purge_expired(self, now: datetime) -> int:
        now = _utc(now)
        purged = await self._run(
            _PURGE["postgresql" if self._postgres else "sqlite"],
            now if self._postgres else _sqlite_time(now),
        )
        if purged:
            log.info("replay store purged", rows=purged)
        return purged

    async def _run(self, statement: str, *values: object) -> int:
        """The statement's row count (for PostgreSQL's `RETURNING 1`: 1 when a row came)."""
        try:
            # The pool's connection itself, without an AsyncConnection around it (which cost
            # the check 0.05 ms); it goes back to the pool, or when broken is dropped, inside
            # SQLAlchemy's greenlet, where the driver may await its close.
            raw = await self._engine.raw_connection()
            try:
                return await self._execute(raw.driver_connection, statement, values)
            except BaseException:
                await greenlet_spawn(raw.invalidate)  # never hand a broken connection on
                raise
            finally:
                await greenlet_spawn(raw.close)
        except _UNREACHABLE as exc:
            log.error("replay store unreachable", store="database", **failure_fields(exc))
            raise ReplayCheckUnavailable(
                "the replay store does not answer, so the token cannot be checked; try again"
            ) from None

    async def _execute(self, driver: Any, statement: str, values: tuple[object, ...]) -> int:
        if self._postgres:
            if statement.endswith("RETURNING 1"):
                return 1 if await driver.fetchval(statement, *values) else 0
            status: str = await driver.execute(statement, *values)
            return int(status.rsplit(" ", 1)[-1])
        cursor = await driver.execute(statement, values)
        if driver.in_transaction:  # an engine not made `statements_only`
            await driver.commit()
        return int(cursor.rowcount)

    @property
    def engine(self) -> AsyncEngine:
        return self._engine

    async def reachable(self) -> bool:
        return True  # the database itself is what readiness checks

    async def aclose(self) -> None:
        await self._engine.dispose()


class RedisReplayStore:
    """`cds_hooks.auth.ReplayStore` in Redis: `SET prefix+hash NX EX ttl`."""

    def __init__(self, client: redis.Redis, *, key_prefix: str = "opioid-cds:jti:") -> None:
        self._redis = client
        self._prefix = key_prefix

    @classmethod
    def from_url(cls, url: str, *, key_prefix: str = "opioid-cds:jti:") -> RedisReplayStore:
        client = redis.Redis.from_url(
            url,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )
        return cls(client, key_prefix=key_prefix)

    async def remember(self, jti: str, issuer: str, expires_at: datetime) -> bool:
        # Whole seconds, at least one: a key must outlive its token, never the other way.
        ttl = max(1, math.ceil((_utc(expires_at) - datetime.now(UTC)).total_seconds()))
        try:
            stored = await self._redis.set(
                self._prefix + jti_hash(issuer, jti), b"", nx=True, ex=ttl
            )
        except (RedisError, OSError) as exc:
            log.error("replay store unreachable", store="redis", **failure_fields(exc))
            raise ReplayCheckUnavailable(
                "the replay store does not answer, so the token cannot be checked; try again"
            ) from None
        return bool(stored)

    async def purge_expired(self, now: datetime) -> int:
        return 0  # Redis forgets a key when its TTL runs out

    async def reachable(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (RedisError, OSError):
            return False

    async def aclose(self) -> None:
        await self._redis.aclose()


SharedReplayStore = SqlReplayStore | RedisReplayStore


def build_replay_store(settings: Settings) -> SharedReplayStore:
    """Redis when `OPIOID_CDS_REDIS_URL` is set; else the service's database, through an
    engine of the store's own."""
    if settings.redis_url:
        return RedisReplayStore.from_url(settings.redis_url, key_prefix=settings.redis_key_prefix)
    return SqlReplayStore.for_database(settings.database_url)
