"""The JWT replay store, shared by every replica: Redis when configured, else the database.

A `jti` is kept as sha256(iss + "\\n" + jti), never as sent, until its token expires.

- `RedisReplayStore` (`OPIOID_CDS_REDIS_URL`): one `SET key NX EX ttl`, atomic however many
  replicas race; Redis forgets the key when the token has expired.
- `SqlReplayStore`: the `seen_jwt_ids` table. Its primary key makes the INSERT itself the
  check: the second INSERT of the same id fails with an IntegrityError on SQLite and on
  PostgreSQL alike. An entry whose token has expired may be taken over (an UPDATE guarded by
  `expires_at < now`, also atomic), and expired rows are deleted every `purge_interval`
  seconds by whichever request comes by. It is cheap because nothing waits for the disk: on
  PostgreSQL the table is UNLOGGED (migration 0003), on SQLite the store commits on a
  connection of its own without fsync. Both keep what they saw when the service process is
  killed; after a database crash (or power loss, or a PostgreSQL fail-over) tokens seen in
  the last minutes could be replayed until they expire.

A store that cannot be reached raises `ReplayCheckUnavailable` (503): a token that cannot be
checked is refused, never let through.
"""

from __future__ import annotations

import hashlib
import math
import time
from datetime import UTC, datetime

import redis.asyncio as redis
import structlog
from redis.exceptions import RedisError
from sqlalchemy import delete, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db import SeenJwtId, create_engine_for
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


class SqlReplayStore:
    """`cds_hooks.auth.ReplayStore` on the `seen_jwt_ids` table."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        purge_interval: float = 60.0,
        owned_engine: AsyncEngine | None = None,
    ) -> None:
        self._sessions = session_factory
        self._purge_interval = purge_interval
        self._last_purge = float("-inf")
        self._owned_engine = owned_engine

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

    @property
    def owned_engine(self) -> AsyncEngine | None:
        """The engine this store opened for itself (SQLite), closed with it."""
        return self._owned_engine

    async def reachable(self) -> bool:
        return True  # the database itself is what readiness checks

    async def aclose(self) -> None:
        if self._owned_engine is not None:
            await self._owned_engine.dispose()


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


def build_replay_store(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> SharedReplayStore:
    """Redis when `OPIOID_CDS_REDIS_URL` is set; else the database: on PostgreSQL through the
    service's own sessions, on SQLite through an engine of its own that commits without
    fsync."""
    if settings.redis_url:
        return RedisReplayStore.from_url(settings.redis_url, key_prefix=settings.redis_key_prefix)
    if make_url(settings.database_url).get_backend_name() == "sqlite":
        engine = create_engine_for(settings.database_url, fsync_commits=False)
        return SqlReplayStore(async_sessionmaker(engine), owned_engine=engine)
    return SqlReplayStore(session_factory)
