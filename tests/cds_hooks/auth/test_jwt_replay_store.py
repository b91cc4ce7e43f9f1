"""The replay stores: in memory, and in the database (SQLite and PostgreSQL).

`database_url` (tests/conftest.py) runs each database test on SQLite and, where the
machine's PostgreSQL answers, on PostgreSQL too; the schema comes from the real migration.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import anyio
import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import SeenJwtId, create_engine_for, migrate
from app.replay_store import SqlReplayStore, jti_hash
from cds_hooks.auth import InMemoryReplayStore, ReplayStore

pytestmark = pytest.mark.anyio


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await anyio.to_thread.run_sync(migrate, database_url)
    engine = create_engine_for(database_url)
    factory = async_sessionmaker(engine, expire_on_commit=False)
    async with factory.begin() as session:  # the PostgreSQL database lives for the session
        await session.execute(delete(SeenJwtId))
    try:
        yield factory
    finally:
        await engine.dispose()


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


async def test_sql_store_refuses_a_second_use(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = SqlReplayStore(sessions)
    assert isinstance(store, ReplayStore)
    assert await store.remember("jti-1", "https://ehr.example.test", later(300))
    assert not await store.remember("jti-1", "https://ehr.example.test", later(300))
    assert await store.remember("jti-1", "https://other.example.test", later(300))


async def test_sql_store_keeps_only_a_hash(sessions: async_sessionmaker[AsyncSession]) -> None:
    store = SqlReplayStore(sessions)
    await store.remember("secret-ish-jti", "https://ehr.example.test", later(300))
    async with sessions() as session:
        rows = (await session.execute(select(SeenJwtId))).scalars().all()
    assert [row.jti_hash for row in rows] == [
        jti_hash("https://ehr.example.test", "secret-ish-jti")
    ]
    assert len(rows[0].jti_hash) == 64


async def test_sql_store_is_safe_under_concurrency(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = SqlReplayStore(sessions)
    results: list[bool] = []

    async def attempt() -> None:
        results.append(await store.remember("raced", "https://ehr.example.test", later(300)))

    async with anyio.create_task_group() as group:
        for _ in range(40):
            group.start_soon(attempt)
    assert results.count(True) == 1
    assert results.count(False) == 39


async def test_sql_store_shared_by_two_replicas(
    sessions: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    other_engine = create_engine_for(database_url)
    try:
        replica_a = SqlReplayStore(sessions)
        replica_b = SqlReplayStore(async_sessionmaker(other_engine, expire_on_commit=False))
        assert await replica_a.remember("shared", "iss", later(300))
        assert not await replica_b.remember("shared", "iss", later(300))
    finally:
        await other_engine.dispose()


async def test_sql_store_purges_expired_entries(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = SqlReplayStore(sessions, purge_interval=3600)
    for number in range(5):
        assert await store.remember(f"old-{number}", "iss", later(-10))
    assert await store.remember("fresh", "iss", later(300))
    assert await store.purge_expired(datetime.now(UTC)) == 5
    async with sessions() as session:
        count = await session.scalar(select(func.count()).select_from(SeenJwtId))
    assert count == 1


async def test_sql_store_purges_as_it_goes(sessions: async_sessionmaker[AsyncSession]) -> None:
    store = SqlReplayStore(sessions, purge_interval=0)
    await store.remember("old", "iss", later(-10))
    await store.remember("new", "iss", later(300))  # purges "old" first
    async with sessions() as session:
        count = await session.scalar(select(func.count()).select_from(SeenJwtId))
    assert count == 1


async def test_an_expired_entry_can_be_taken_over(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = SqlReplayStore(sessions, purge_interval=3600)
    assert await store.remember("reused", "iss", later(-10))
    assert await store.remember("reused", "iss", later(300))
    assert not await store.remember("reused", "iss", later(300))


async def test_naive_datetimes_are_refused(sessions: async_sessionmaker[AsyncSession]) -> None:
    with pytest.raises(ValueError, match="timezone"):
        await SqlReplayStore(sessions).remember("x", "iss", datetime(2030, 1, 1))
