"""The audit trail: journalled before the response, stored in the database in batches.

A service call appends its event to the local journal (`app.audit_journal`: one `write()`,
so it survives the process being killed) and answers. One shipper task per process stores
what has gathered within `linger_seconds` in a single transaction: a commit per batch costs
the service far less than a commit per call (docs/operations.md has the figures). The
shipper also stores what a killed process left in the journal, at start-up and after.

A database that is down or refuses the rows leaves the events in the journal: they are
retried every `retry_seconds`, counted in `backlog`, and logged; nothing is dropped. An
event the database refuses on its own (a bad value) is dropped, counted and logged by error
type; so is one whose journal write and database insert both failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import delete, insert
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit_journal import AuditJournal
from app.db import AuditJournalSegment, CardEvent, ReportCard, ReportOrder
from app.logging import get_logger
from app.reporting.records import ReportRows
from cds_hooks.failures import failure_fields

__all__ = ["AuditEvent", "AuditWriter", "decode_event", "encode_event"]

log = get_logger(__name__)
_CARD_EVENTS = CardEvent.metadata.tables[CardEvent.__tablename__]
_REPORT_ORDERS = ReportOrder.metadata.tables[ReportOrder.__tablename__]
_REPORT_CARDS = ReportCard.metadata.tables[ReportCard.__tablename__]
# The database cannot be reached (or lacks its tables): keep the events and try again.
_UNAVAILABLE = (OperationalError, InterfaceError, OSError, TimeoutError)
_SEGMENT_NAMES_KEPT = timedelta(days=7)


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


def encode_event(event: AuditEvent) -> bytes:
    """The event as one journal line (it holds the pseudonym, never a patient id). orjson
    writes the dataclass itself: `dataclasses.asdict` would first copy every report row."""
    return orjson.dumps(event) + b"\n"


def decode_event(line: bytes) -> AuditEvent:
    data: dict[str, Any] = orjson.loads(line)
    orders, cards = data.pop("report")
    data["created_at"] = datetime.fromisoformat(data["created_at"])
    return AuditEvent(**data, report=(tuple(orders), tuple(cards)))


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
        journal: AuditJournal,
        *,
        linger_seconds: float = 0.5,
        retry_seconds: float = 5.0,
    ) -> None:
        self._session_factory = session_factory
        self._journal = journal
        self._linger_seconds = linger_seconds
        self._retry_seconds = retry_seconds
        self._wake = asyncio.Event()
        self._shipping = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._unjournaled: list[AuditEvent] = []
        self._unshipped = 0
        self._segment_names_purged = float("-inf")
        self.dropped = 0

    @property
    def backlog(self) -> int:
        """Events of answered calls not yet in the database (readiness, metrics)."""
        return self._journal.active_events + self._unshipped + len(self._unjournaled)

    def record(self, event: AuditEvent) -> None:
        try:
            self._journal.append(encode_event(event))
        except OSError as exc:  # a full or broken disk: the database is the one copy left
            self._unjournaled.append(event)
            log.error("audit journal write failed; event held in memory", **failure_fields(exc))
        self._wake.set()

    def start(self) -> None:
        self._journal.open()
        self._task = asyncio.create_task(self._run(), name="audit-shipper")

    async def stop(self, timeout_seconds: float = 10.0) -> None:
        """Store what is journalled (within the timeout), then end the shipper. What is not
        stored stays in the journal for the next start."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.flush(), timeout_seconds)
        self._journal.close()
        if self.backlog:
            log.warning("audit events not stored at shutdown", backlog_events=self.backlog)

    async def flush(self) -> bool:
        """Store every journalled event now; True when all were stored."""
        async with self._shipping:
            return await self._ship()

    async def _run(self) -> None:
        while True:
            if not self._journal.active_events and not self._unjournaled:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    # What could not be stored is tried again; else wait for an event.
                    timeout = self._retry_seconds if self._unshipped else None
                    await asyncio.wait_for(self._wake.wait(), timeout)
            # Wait a moment for more events: one commit for many calls.
            await asyncio.sleep(self._linger_seconds)
            if not await self.flush():
                await asyncio.sleep(self._retry_seconds)

    async def _ship(self) -> bool:
        self._journal.rotate()
        stored_all = True
        if self._unjournaled:
            events, self._unjournaled = self._unjournaled, []
            try:
                await self._store(events, segment=None)
            except _UNAVAILABLE as exc:
                self._unjournaled = events + self._unjournaled
                stored_all = False
                log.warning("audit events not stored yet", **failure_fields(exc))
        unshipped = 0
        for path in self._journal.segments():
            with self._journal.claimed(path) as lines:
                if lines is None:  # another live process writes or ships it
                    continue
                try:
                    await self._store([*self._decode(lines)], segment=path.name)
                except _UNAVAILABLE as exc:
                    unshipped += len(lines)
                    stored_all = False
                    log.warning(
                        "audit journal not shipped; kept for the next try",
                        **failure_fields(exc),
                        backlog_events=unshipped + self._journal.active_events,
                    )
                    continue
                path.unlink(missing_ok=True)
        self._unshipped = unshipped
        return stored_all

    def _decode(self, lines: list[bytes]) -> list[AuditEvent]:
        events = []
        for line in lines:
            try:
                events.append(decode_event(line))
            except (ValueError, TypeError, KeyError) as exc:
                self.dropped += 1
                log.error("audit journal line unreadable; dropped", **failure_fields(exc))
        return events

    async def _store(self, events: list[AuditEvent], *, segment: str | None) -> None:
        """Store the events and the segment's name in one transaction (no savepoints: on
        SQLite a released outer savepoint commits), so a segment stored before is skipped.
        When the database refuses the batch for a bad event, each event is tried on its own
        (rolled back) first, and those it refuses are dropped."""
        try:
            await self._store_batch(events, segment)
            return
        except _UNAVAILABLE:
            raise
        except Exception as exc:
            log.warning("audit batch refused; trying one by one", **failure_fields(exc))
        storable = []
        for event in events:
            try:
                async with self._session_factory() as session:
                    await _insert(session, [event])
                    await session.rollback()
                storable.append(event)
            except _UNAVAILABLE:
                raise
            except Exception as row_exc:
                self.dropped += 1
                log.error("audit event dropped", **failure_fields(row_exc))
        await self._store_batch(storable, segment)

    async def _store_batch(self, events: list[AuditEvent], segment: str | None) -> None:
        async with self._session_factory() as session:
            if segment is not None:
                if await session.get(AuditJournalSegment, segment) is not None:
                    log.info("audit journal segment was stored before; removed")
                    return
                await self._mark_segment(session, segment)
            await _insert(session, events)
            await session.commit()

    async def _mark_segment(self, session: AsyncSession, segment: str) -> None:
        now = datetime.now(UTC)
        session.add(AuditJournalSegment(name=segment, shipped_at=now))
        if time.monotonic() - self._segment_names_purged > 3600:
            self._segment_names_purged = time.monotonic()
            await session.execute(
                delete(AuditJournalSegment).where(
                    AuditJournalSegment.shipped_at < now - _SEGMENT_NAMES_KEPT
                )
            )


async def _insert(session: AsyncSession, events: list[AuditEvent]) -> None:
    rows = _Rows()
    for event in events:
        rows.add(event)
    # Core executemany per table: the ORM's bulk insert would cost the loop more.
    for table, table_rows in (
        (_CARD_EVENTS, rows.events),
        (_REPORT_ORDERS, rows.orders),
        (_REPORT_CARDS, rows.cards),
    ):
        if table_rows:
            await session.execute(insert(table), table_rows)
