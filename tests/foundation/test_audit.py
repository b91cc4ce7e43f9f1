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
