"""The replay stores: in memory, in the database (SQLite and PostgreSQL), and in Redis.

`database_url` (tests/conftest.py) runs each database test on SQLite and, where the
machine's PostgreSQL answers, on PostgreSQL too; the schema comes from the real migration.
The Redis tests use the machine's Redis, each with keys of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import anyio
import pytest
import redis.asyncio as redis
from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.db import SeenJwtId, create_engine_for, migrate
from app.replay_store import RedisReplayStore, SqlReplayStore, build_replay_store, jti_hash
from app.settings import Settings
from cds_hooks.auth import InMemoryReplayStore, ReplayStore
from cds_hooks.errors import ReplayCheckUnavailable
from tests.cds_hooks.prefetch.servers import free_port

pytestmark = pytest.mark.anyio


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    await anyio.to_thread.run_sync(migrate, database_url)
    engine = create_engine_for(database_url)
    async with engine.begin() as connection:  # the PostgreSQL database lives for the session
        await connection.execute(delete(SeenJwtId))
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """To read what the store wrote, as the ORM reads it."""
    return async_sessionmaker(engine, expire_on_commit=False)


def later(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


async def test_in_memory_store_remembers_per_issuer() -> None:
    store = InMemoryReplayStore()
    assert isinstance(store, ReplayStore)
    assert await store.remember("a", "iss-1", later(60))
    assert not await store.remember("a", "iss-1", later(60))
    assert await store.remember("a", "iss-2", later(60))
    assert await store.remember("old", "iss-1", later(-1))
    assert await store.purge_expired(datetime.now(UTC)) == 1
    assert len(store) == 2


async def test_sql_store_refuses_a_second_use(engine: AsyncEngine) -> None:
    store = SqlReplayStore(engine)
    assert isinstance(store, ReplayStore)
    assert await store.remember("jti-1", "https://ehr.example.test", later(300))
    assert not await store.remember("jti-1", "https://ehr.example.test", later(300))
    assert await store.remember("jti-1", "https://other.example.test", later(300))


async def test_sql_store_keeps_only_a_hash(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    store = SqlReplayStore(engine)
    await store.remember("secret-ish-jti", "https://ehr.example.test", later(300))
    async with sessions() as session:
        rows = (await session.execute(select(SeenJwtId))).scalars().all()
    assert [row.jti_hash for row in rows] == [
        jti_hash("https://ehr.example.test", "secret-ish-jti")
    ]
    assert len(rows[0].jti_hash) == 64


async def test_sql_store_is_safe_under_concurrency(engine: AsyncEngine) -> None:
    store = SqlReplayStore(engine)
    results: list[bool] = []

    async def attempt() -> None:
        results.append(await store.remember("raced", "https://ehr.example.test", later(300)))

    async with anyio.create_task_group() as group:
        for _ in range(40):
            group.start_soon(attempt)
    assert results.count(True) == 1
    assert results.count(False) == 39


async def test_sql_store_shared_by_two_replicas(engine: AsyncEngine, database_url: str) -> None:
    other_engine = create_engine_for(database_url)
    try:
        replica_a = SqlReplayStore(engine)
        replica_b = SqlReplayStore(other_engine)
        assert await replica_a.remember("shared", "iss", later(300))
        assert not await replica_b.remember("shared", "iss", later(300))
    finally:
        await other_engine.dispose()


async def test_sql_store_purges_expired_entries(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    store = SqlReplayStore(engine, purge_interval=3600)
    for number in range(5):
        assert await store.remember(f"old-{number}", "iss", later(-10))
    assert await store.remember("fresh", "iss", later(300))
    assert await store.purge_expired(datetime.now(UTC)) == 5
    async with sessions() as session:
        count = await session.scalar(select(func.count()).select_from(SeenJwtId))
    assert count == 1


async def test_sql_store_purges_as_it_goes(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    store = SqlReplayStore(engine, purge_interval=0)
    await store.remember("old", "iss", later(-10))
    await store.remember("new", "iss", later(300))  # purges "old" first
    async with sessions() as session:
        count = await session.scalar(select(func.count()).select_from(SeenJwtId))
    assert count == 1


async def test_an_expired_entry_can_be_taken_over(engine: AsyncEngine) -> None:
    store = SqlReplayStore(engine, purge_interval=3600)
    assert await store.remember("reused", "iss", later(-10))
    assert await store.remember("reused", "iss", later(300))
    assert not await store.remember("reused", "iss", later(300))


async def test_rows_written_through_the_orm_compare_as_the_store_writes_them(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Rows from before the store spoke to the driver directly (SQLAlchemy's own format on
    SQLite): an expired one is taken over, a live one still refuses its token."""
    async with sessions.begin() as session:
        session.add(SeenJwtId(jti_hash=jti_hash("iss", "expired"), expires_at=later(-10)))
        session.add(SeenJwtId(jti_hash=jti_hash("iss", "live"), expires_at=later(300)))
    store = SqlReplayStore(engine, purge_interval=3600)
    assert await store.remember("expired", "iss", later(300))
    assert not await store.remember("live", "iss", later(300))
    assert await store.purge_expired(later(400)) == 2


async def test_an_unreachable_database_refuses_the_check() -> None:
    """Fail closed, quickly: 503 for the call (ReplayCheckUnavailable), never a pass."""
    engine = create_async_engine(f"postgresql+asyncpg://cds@127.0.0.1:{free_port()}/none")
    try:
        with pytest.raises(ReplayCheckUnavailable):
            await SqlReplayStore(engine).remember("x", "iss", later(300))
    finally:
        await engine.dispose()


async def test_naive_datetimes_are_refused(engine: AsyncEngine) -> None:
    with pytest.raises(ValueError, match="timezone"):
        await SqlReplayStore(engine).remember("x", "iss", datetime(2030, 1, 1))


# ------------------------------------------------------------- what makes a check cheap


async def test_sqlite_store_commits_without_waiting_for_the_disk(sqlite_url: str) -> None:
    """A commit that waits for fsync cost a signed call 10 ms on the development machine."""
    await anyio.to_thread.run_sync(migrate, sqlite_url)
    store = build_replay_store(Settings(database_url=sqlite_url))
    assert isinstance(store, SqlReplayStore)
    try:
        assert await store.remember("cheap", "iss", later(300))
        assert not await store.remember("cheap", "iss", later(300))
        async with store.engine.connect() as connection:
            synchronous = await connection.scalar(text("PRAGMA synchronous"))
        assert synchronous == 1  # NORMAL: durable when the process dies, no fsync per commit
    finally:
        await store.aclose()


@pytest.mark.postgres
async def test_postgres_table_is_unlogged(postgres_url: str) -> None:
    await anyio.to_thread.run_sync(migrate, postgres_url)
    engine = create_engine_for(postgres_url)
    try:
        async with engine.connect() as connection:
            persistence = await connection.scalar(
                text("SELECT relpersistence::text FROM pg_class WHERE relname = 'seen_jwt_ids'")
            )
    finally:
        await engine.dispose()
    assert persistence == "u"


# -------------------------------------------------------------------------------- Redis


@pytest.fixture
async def redis_store(redis_url: str, redis_key_prefix: str) -> AsyncIterator[RedisReplayStore]:
    store = RedisReplayStore.from_url(redis_url, key_prefix=redis_key_prefix)
    try:
        yield store
    finally:
        await store.aclose()


async def test_redis_store_refuses_a_second_use(redis_store: RedisReplayStore) -> None:
    assert isinstance(redis_store, ReplayStore)
    assert await redis_store.remember("jti-1", "https://ehr.example.test", later(300))
    assert not await redis_store.remember("jti-1", "https://ehr.example.test", later(300))
    assert await redis_store.remember("jti-1", "https://other.example.test", later(300))


async def test_redis_store_keeps_a_hash_until_the_token_expires(
    redis_store: RedisReplayStore, redis_url: str, redis_key_prefix: str
) -> None:
    await redis_store.remember("secret-ish-jti", "https://ehr.example.test", later(300))
    client = redis.Redis.from_url(redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=redis_key_prefix + "*")]
        assert keys == [
            (redis_key_prefix + jti_hash("https://ehr.example.test", "secret-ish-jti")).encode()
        ]
        assert 290 <= await client.ttl(keys[0]) <= 300
    finally:
        await client.aclose()


async def test_redis_store_forgets_an_expired_token(redis_store: RedisReplayStore) -> None:
    assert await redis_store.remember("brief", "iss", later(0.5))  # kept one second at least
    assert not await redis_store.remember("brief", "iss", later(300))
    await anyio.sleep(1.2)
    assert await redis_store.remember("brief", "iss", later(300))


async def test_redis_store_is_safe_under_concurrency(redis_url: str, redis_key_prefix: str) -> None:
    replicas = [RedisReplayStore.from_url(redis_url, key_prefix=redis_key_prefix) for _ in "ab"]
    results: list[bool] = []

    async def attempt(store: RedisReplayStore) -> None:
        results.append(await store.remember("raced", "https://ehr.example.test", later(300)))

    try:
        async with anyio.create_task_group() as group:
            for number in range(40):
                group.start_soon(attempt, replicas[number % 2])
    finally:
        for store in replicas:
            await store.aclose()
    assert results.count(True) == 1
    assert results.count(False) == 39


async def test_unreachable_redis_refuses_the_check() -> None:
    store = RedisReplayStore.from_url(f"redis://127.0.0.1:{free_port()}/0")
    try:
        with pytest.raises(ReplayCheckUnavailable):
            await store.remember("any", "iss", later(300))
        assert not await store.reachable()
    finally:
        await store.aclose()
