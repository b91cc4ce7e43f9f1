"""The audit trail is written off the response path, in batches.

A service call only puts its event on a bounded queue; one writer task per process stores
what has gathered within `linger_seconds` in a single transaction. Every transaction has a
fixed cost (session, commit, a hop to the database thread) and rows are a small part of it,
so a busy service pays it once per batch instead of once per call. When the queue is full
(the database is down or far behind) events are dropped and counted rather than slowing
down prescribing, and the drop is logged. On shutdown the writer stores what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.db import CardEvent, ReportCard, ReportOrder
from app.logging import get_logger
from app.reporting.records import ReportRows

__all__ = ["AuditEvent", "AuditWriter"]

log = get_logger(__name__)
_CARD_EVENTS = CardEvent.metadata.tables[CardEvent.__tablename__]
_REPORT_ORDERS = ReportOrder.metadata.tables[ReportOrder.__tablename__]
_REPORT_CARDS = ReportCard.metadata.tables[ReportCard.__tablename__]


@dataclass(frozen=True)
class AuditEvent:
    service_id: str
    hook: str
    hook_instance: str
    patient_pseudonym: str | None
    rule_ids: list[str]
    card_uuids: list[str]
    duration_ms: float
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    report: ReportRows = ((), ())
    """The call's rows for the report (`app.reporting.records`), stored in the same
    transaction as the event."""


@dataclass
class _Rows:
    """One transaction's rows, per table."""

    events: list[dict[str, Any]] = field(default_factory=list)
    orders: list[dict[str, Any]] = field(default_factory=list)
    cards: list[dict[str, Any]] = field(default_factory=list)

    def add(self, event: AuditEvent) -> None:
        self.events.append(
            {
                "created_at": event.created_at,
                "service_id": event.service_id,
                "hook": event.hook,
                "hook_instance": _storable(event.hook_instance),
                "patient_pseudonym": event.patient_pseudonym,
                "rule_ids": event.rule_ids,
                "card_uuids": event.card_uuids,
                "duration_ms": event.duration_ms,
            }
        )
        orders, cards = event.report
        self.orders.extend({**row, "evaluated_at": event.created_at} for row in orders)
        self.cards.extend({**row, "evaluated_at": event.created_at} for row in cards)


def _storable(hook_instance: str) -> str:
    """The client's hookInstance as the column takes it: no control characters, 100 at most."""
    return "".join(char for char in hook_instance if char >= " " and char != "\x7f")[:100]


class AuditWriter:
    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        max_queue: int = 10_000,
        max_batch: int = 500,
        linger_seconds: float = 0.5,
    ) -> None:
        self._session_factory = session_factory
        self._queue: asyncio.Queue[AuditEvent] = asyncio.Queue(maxsize=max_queue)
        self._max_batch = max_batch
        self._linger_seconds = linger_seconds
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    @property
    def queue_depth(self) -> int:
        """Events waiting to be stored (read by the metrics)."""
        return self._queue.qsize()

    def record(self, event: AuditEvent) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("audit queue full; event dropped", dropped_total=self.dropped)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="audit-writer")

    async def stop(self, timeout_seconds: float = 10.0) -> None:
        """Store what is queued (within the timeout), then end the writer."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), timeout_seconds)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if not self._queue.empty():
            log.warning("audit events not stored at shutdown", events=self._queue.qsize())

    async def flush(self) -> None:
        """Wait until every queued event is stored (tests and shutdown)."""
        await self._queue.join()

    def _drain(self) -> list[AuditEvent]:
        batch: list[AuditEvent] = []
        while len(batch) < self._max_batch:
            try:
                batch.append(self._queue.get_nowait())
            except asyncio.QueueEmpty:
                break
        return batch

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            # Wait a moment for more events: one commit for many calls costs the service far
            # less than a commit per call.
            await asyncio.sleep(self._linger_seconds)
            batch = [first, *self._drain()]
            await self._write(batch)

    async def _insert(self, events: list[AuditEvent]) -> None:
        rows = _Rows()
        for event in events:
            rows.add(event)
        async with self._session_factory() as session:
            # Core executemany per table: the ORM's bulk insert would cost the loop more.
            for table, table_rows in (
                (_CARD_EVENTS, rows.events),
                (_REPORT_ORDERS, rows.orders),
                (_REPORT_CARDS, rows.cards),
            ):
                if table_rows:
                    await session.execute(insert(table), table_rows)
            await session.commit()

    async def _write(self, batch: list[AuditEvent]) -> None:
        if not batch:
            return
        try:
            await self._insert(batch)
        except Exception as exc:  # the audit must never take the service down
            log.warning("audit batch failed; storing one by one", error_type=type(exc).__name__)
            for event in batch:  # one bad event must not cost the others
                try:
                    await self._insert([event])
                except Exception as row_exc:
                    self.dropped += 1
                    log.error("audit event dropped", error_type=type(row_exc).__name__)
        finally:
            for _ in batch:
                self._queue.task_done()
