"""The audit writer: journalled events reach the database once, whatever the database does."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit import AuditEvent, AuditWriter
from app.audit_journal import AuditJournal
from app.db import CardEvent, create_engine_for, migrate


def _event(index: int, prefix: str = "hook") -> AuditEvent:
    return AuditEvent(
        service_id="opioid-order-sign",
        hook="order-sign",
        hook_instance=f"{prefix}-{index}",
        patient_pseudonym="0" * 64,
        rule_ids=["gp-duration-limit"],
        card_uuids=[f"card-{index}"],
        duration_ms=1.5,
    )


async def _stored(factory: async_sessionmaker[AsyncSession], prefix: str = "hook") -> int:
    async with factory() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(CardEvent)
            .where(CardEvent.hook_instance.like(f"{prefix}-%"))
        )
    return int(count or 0)


def test_events_recorded_just_before_shutdown_are_stored(database_url: str, tmp_path: Path) -> None:
    migrate(database_url)

    async def scenario() -> int:
        engine = create_engine_for(database_url)
        try:
            factory = async_sessionmaker(engine, expire_on_commit=False)
            writer = AuditWriter(factory, AuditJournal(tmp_path / "journal"))
            writer.start()
            for index in range(50):
                writer.record(_event(index, "shutdown"))
            await writer.stop()
            assert writer.backlog == 0
            return await _stored(factory, "shutdown")
        finally:
            await engine.dispose()

    assert asyncio.run(scenario()) == 50
    assert list((tmp_path / "journal").iterdir()) == []  # shipped segments are removed


def test_a_database_that_is_down_keeps_the_events_until_it_is_back(
    sqlite_url: str, tmp_path: Path
) -> None:
    """Not migrated yet: every insert fails, as with a database that is down."""

    async def scenario() -> None:
        engine = create_engine_for(sqlite_url)
        try:
            factory = async_sessionmaker(engine, expire_on_commit=False)
            writer = AuditWriter(factory, AuditJournal(tmp_path / "journal"))
            writer.start()
            for index in range(5):
                writer.record(_event(index))
            assert not await writer.flush()
            assert (writer.backlog, writer.dropped) == (5, 0)
            await asyncio.to_thread(migrate, sqlite_url)
            assert await writer.flush()
            assert (writer.backlog, writer.dropped) == (0, 0)
            assert await _stored(factory) == 5
            await writer.stop()
        finally:
            await engine.dispose()

    asyncio.run(scenario())


def test_a_segment_is_stored_once_even_when_its_file_outlives_the_commit(
    database_url: str, tmp_path: Path
) -> None:
    """A process killed between the commit and removing the file leaves the segment behind:
    the next shipper must recognise it."""
    migrate(database_url)
    journal_dir = tmp_path / "journal"

    async def scenario() -> int:
        engine = create_engine_for(database_url)
        try:
            factory = async_sessionmaker(engine, expire_on_commit=False)
            journal = AuditJournal(journal_dir)
            writer = AuditWriter(factory, journal)
            writer.start()
            for index in range(3):
                writer.record(_event(index, "once"))
            journal.rotate()
            [segment] = journal.segments()
            shutil.copy(segment, tmp_path / segment.name)
            assert await writer.flush()
            shutil.copy(tmp_path / segment.name, segment)  # as if never removed
            assert await writer.flush()
            assert not segment.exists()
            await writer.stop()
            return await _stored(factory, "once")
        finally:
            await engine.dispose()

    assert asyncio.run(scenario()) == 3


def test_the_active_segment_of_another_live_process_is_left_alone(
    sqlite_url: str, tmp_path: Path
) -> None:
    migrate(sqlite_url)

    async def scenario() -> tuple[int, int]:
        engine = create_engine_for(sqlite_url)
        try:
            factory = async_sessionmaker(engine, expire_on_commit=False)
            writing = AuditWriter(factory, AuditJournal(tmp_path / "journal"))
            shipping = AuditWriter(factory, AuditJournal(tmp_path / "journal"))
            writing.start()
            shipping.start()
            writing.record(_event(1, "live"))
            assert await shipping.flush()
            before = await _stored(factory, "live")  # still being written to: not taken
            await writing.stop()
            await shipping.stop()
            return before, await _stored(factory, "live")
        finally:
            await engine.dispose()

    assert asyncio.run(scenario()) == (0, 1)


def test_a_hook_instance_with_control_characters_is_stored_cleaned(
    database_url: str, tmp_path: Path
) -> None:
    migrate(database_url)

    async def scenario() -> list[str]:
        engine = create_engine_for(database_url)
        try:
            factory = async_sessionmaker(engine, expire_on_commit=False)
            writer = AuditWriter(factory, AuditJournal(tmp_path / "journal"), linger_seconds=0)
            writer.start()
            writer.record(
                AuditEvent(**{**_event(0).__dict__, "hook_instance": "nul\x00byte-" + "x" * 200})
            )
            plain = AuditEvent(**{**_event(0).__dict__, "hook_instance": "plain-neighbour"})
            writer.record(plain)  # in the same batch: must not be lost with it
            await writer.stop()
            async with factory() as session:
                stored = await session.scalars(
                    select(CardEvent.hook_instance).where(
                        CardEvent.hook_instance.in_(["plain-neighbour"])
                        | CardEvent.hook_instance.like("nul%")
                    )
                )
                return sorted(stored)
        finally:
            await engine.dispose()

    cleaned, plain = asyncio.run(scenario())
    assert plain == "plain-neighbour"
    assert cleaned.startswith("nulbyte-")
    assert len(cleaned) == 100
