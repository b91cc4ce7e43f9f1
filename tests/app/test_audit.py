from __future__ import annotations

import asyncio

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.audit import AuditEvent, AuditWriter
from app.db import CardEvent, create_engine_for, migrate


def _event(index: int) -> AuditEvent:
    return AuditEvent(
        service_id="opioid-order-sign",
        hook="order-sign",
        hook_instance=f"hook-{index}",
        patient_pseudonym="0" * 64,
        rule_ids=["gp-duration-limit"],
        card_uuids=[f"card-{index}"],
        duration_ms=1.5,
    )


def test_events_recorded_just_before_shutdown_are_stored(database_url: str) -> None:
    migrate(database_url)

    async def scenario() -> int:
        engine = create_engine_for(database_url)
        try:
            factory = async_sessionmaker(engine, expire_on_commit=False)
            writer = AuditWriter(factory, max_batch=7)
            writer.start()
            for index in range(50):
                writer.record(_event(index))
            await writer.stop()
            async with factory() as session:
                count = await session.scalar(
                    select(func.count())
                    .select_from(CardEvent)
                    .where(CardEvent.hook_instance.like("hook-%"))
                )
            return int(count or 0)
        finally:
            await engine.dispose()

    assert asyncio.run(scenario()) == 50


def test_a_full_queue_drops_and_counts_instead_of_blocking(sqlite_url: str) -> None:
    migrate(sqlite_url)

    async def scenario() -> int:
        engine = create_engine_for(sqlite_url)
        try:
            writer = AuditWriter(async_sessionmaker(engine), max_queue=3)
            for index in range(5):  # the writer is not started: nothing drains the queue
                writer.record(_event(index))
            return writer.dropped
        finally:
            await engine.dispose()

    assert asyncio.run(scenario()) == 2


def test_a_hook_instance_with_control_characters_is_stored_cleaned(database_url: str) -> None:
    migrate(database_url)

    async def scenario() -> list[str]:
        engine = create_engine_for(database_url)
        try:
            factory = async_sessionmaker(engine, expire_on_commit=False)
            writer = AuditWriter(factory, linger_seconds=0)
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
