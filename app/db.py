"""Persistence: tables, the async engine, and migrations.

SQLite (aiosqlite) is the embedded default; PostgreSQL (asyncpg) when
`OPIOID_CDS_DATABASE_URL` points at one. The schema is owned by Alembic (app/migrations);
`migrate()` brings any database to the newest revision. Nothing here holds names, BSNs, tokens
or free text of patients: patient ids are pseudonymised before they reach this module.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import JSON, DateTime, Float, Integer, String, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "AuditJournalSegment",
    "Base",
    "CardEvent",
    "DatabaseState",
    "FeedbackRecord",
    "ReportCard",
    "ReportOrder",
    "SeenJwtId",
    "check_database",
    "create_engine_for",
    "migrate",
    "migrate_async",
    "migrate_connection",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class Base(DeclarativeBase):
    pass


class FeedbackRecord(Base):
    """One feedback item as the CDS client sent it. `dedup_key` makes posting twice a no-op.

    The clinician's `userComment` is free text that may mention the patient, so only whether
    there was one is kept.
    """

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dedup_key: Mapped[str] = mapped_column(String(64), unique=True)
    service_id: Mapped[str] = mapped_column(String(100), index=True)
    card_uuid: Mapped[str] = mapped_column(String(100), index=True)
    outcome: Mapped[str] = mapped_column(String(20))
    accepted_suggestions: Mapped[list[str]] = mapped_column(JSON, default=list)
    override_reason_system: Mapped[str | None] = mapped_column(String(255), nullable=True)
    override_reason_code: Mapped[str | None] = mapped_column(String(100), nullable=True)
    has_user_comment: Mapped[bool] = mapped_column(default=False)
    outcome_timestamp: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class CardEvent(Base):
    """Audit trail: which rules fired for which (pseudonymised) patient, and how fast."""

    __tablename__ = "card_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    service_id: Mapped[str] = mapped_column(String(100))
    hook: Mapped[str] = mapped_column(String(50))
    hook_instance: Mapped[str] = mapped_column(String(100))
    patient_pseudonym: Mapped[str | None] = mapped_column(String(64), index=True, nullable=True)
    rule_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    card_uuids: Mapped[list[str]] = mapped_column(JSON, default=list)
    duration_ms: Mapped[float] = mapped_column(Float)


class ReportOrder(Base):
    """One evaluated draft opioid order, for the report of docs/reports.md.

    What the order is, never who it is for: no patient reference at all (the audit trail has
    the pseudonym), the prescriber only as a keyed pseudonym, the practice as its AGB code
    (an organisation's, public). `call_id` is a random id that ties an order to the cards of
    the same call; it is not the client's hookInstance.
    """

    __tablename__ = "report_orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    evaluated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    call_id: Mapped[str] = mapped_column(String(32), index=True)
    hook: Mapped[str] = mapped_column(String(50))
    practice_agb: Mapped[str | None] = mapped_column(String(20), index=True, nullable=True)
    prescriber_pseudonym: Mapped[str | None] = mapped_column(String(64), nullable=True)
    prescriber_role: Mapped[str] = mapped_column(String(20))
    substance: Mapped[str | None] = mapped_column(String(100), nullable=True)
    strength: Mapped[str | None] = mapped_column(String(10), nullable=True)
    release_type: Mapped[str] = mapped_column(String(20))
    route: Mapped[str | None] = mapped_column(String(30), nullable=True)
    duration_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duration_indefinite: Mapped[bool] = mapped_column(default=False)
    doses_per_day: Mapped[float | None] = mapped_column(Float, nullable=True)
    ome_mg_per_day: Mapped[float | None] = mapped_column(Float, nullable=True)
    has_indication: Mapped[bool] = mapped_column(default=False)
    repeats_allowed: Mapped[int] = mapped_column(Integer, default=0)
    gp_max_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rule_ids: Mapped[list[str]] = mapped_column(JSON, default=list)


class ReportCard(Base):
    """One card the service returned: its uuid (what feedback names) and its rule."""

    __tablename__ = "report_cards"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    evaluated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    call_id: Mapped[str] = mapped_column(String(32))
    hook: Mapped[str] = mapped_column(String(50))
    practice_agb: Mapped[str | None] = mapped_column(String(20), nullable=True)
    card_uuid: Mapped[str] = mapped_column(String(100), index=True)
    rule_id: Mapped[str] = mapped_column(String(100))


class AuditJournalSegment(Base):
    """A segment of the local audit journal (app/audit_journal.py) whose events are stored:
    written in the same transaction as them, so no segment is stored twice."""

    __tablename__ = "audit_journal_segments"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    shipped_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class SeenJwtId(Base):
    """Replay protection for client JWTs, shared by every replica through the database."""

    __tablename__ = "seen_jwt_ids"

    jti_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


def create_engine_for(
    database_url: str, *, fsync_commits: bool = True, statements_only: bool = False
) -> AsyncEngine:
    """The engine of `database_url`. `fsync_commits=False` (SQLite only) commits without
    waiting for the disk: durable when the process is killed, not when the machine loses
    power. `statements_only=True` is for a caller that sends single statements to the driver
    and drops a connection that fails (the replay store, app/replay_store.py): the driver
    commits each statement itself, and the pool neither pings a connection before handing it
    out nor rolls it back when it comes back, each a round trip (or a thread hop) saved."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        # WAL lets readers go on while the audit writer commits.
        connect_args: dict[str, Any] = {"timeout": 15}
        if statements_only:
            connect_args["isolation_level"] = None  # sqlite3's autocommit
        engine = create_async_engine(
            database_url,
            connect_args=connect_args,
            pool_reset_on_return=None if statements_only else "rollback",
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=15000")
            if not fsync_commits:
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_async_engine(
        database_url,
        pool_pre_ping=not statements_only,
        pool_reset_on_return=None if statements_only else "rollback",
    )


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def migrate_connection(connection: Connection) -> None:
    """Upgrade the database behind a (sync) connection to the newest revision."""
    config = _alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


MIGRATION_LOCK = 0x6F70696F6964  # any constant of our own: "opioid" in ASCII
"""The PostgreSQL advisory lock that lets one migration run at a time."""


async def migrate_async(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # Two `opioid-cds migrate` at once (a retried Job beside the first, two operators)
            # would both create the tables, and one would fail; the lock makes the second wait
            # and then find the schema up to date. Held until this transaction ends.
            await connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
            )
        await connection.run_sync(migrate_connection)


def migrate(database_url: str) -> None:
    """Create or upgrade the schema; safe to run again."""

    async def _run() -> None:
        engine = create_engine_for(database_url)
        try:
            await migrate_async(engine)
        finally:
            await engine.dispose()

    asyncio.run(_run())


DatabaseState = Literal["ok", "unreachable", "not migrated"]


@cache
def _revisions() -> tuple[str | None, frozenset[str]]:
    """The newest revision this code knows, and every revision it knows."""
    script = ScriptDirectory.from_config(_alembic_config())
    return script.get_current_head(), frozenset(rev.revision for rev in script.walk_revisions())


def _schema_is_behind(current: str | None) -> bool:
    """True when the database lacks a migration this code needs. A revision this code does
    not know is a newer release's: its migrations keep the old schema working (a rolling
    update runs old and new replicas side by side), so it is not behind."""
    head, known = _revisions()
    return current is None or (current != head and current in known)


async def check_database(engine: AsyncEngine) -> DatabaseState:
    """Whether the database answers, and holds the schema this code needs. Replicas never
    migrate (that is `opioid-cds migrate`, once per release), so a replica started before
    the migration reports "not migrated" and is kept out of the load balancer."""
    try:
        async with engine.connect() as connection:
            current = await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    except Exception:  # readiness must answer, whatever the driver raises
        return "unreachable"
    return "not migrated" if _schema_is_behind(current) else "ok"
