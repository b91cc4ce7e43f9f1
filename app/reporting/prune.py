"""Retention: report rows (and the feedback they are counted with) older than
`OPIOID_CDS_REPORT_RETENTION_DAYS` are deleted. The service does it on start-up and once a
day after; `opioid-cds report-prune` does it from a cron job or by hand."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db import FeedbackRecord, ReportCard, ReportOrder
from app.logging import get_logger
from cds_hooks.failures import failure_fields

__all__ = ["prune_forever", "prune_report_rows"]

log = get_logger(__name__)
_DAY_SECONDS = 24 * 3600


async def prune_report_rows(
    engine: AsyncEngine, retention_days: int, now: datetime | None = None
) -> dict[str, int]:
    """Delete what is older than the retention; return how many rows per table."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
    deleted: dict[str, int] = {}
    async with engine.begin() as connection:
        for table, column in (
            (ReportOrder, ReportOrder.evaluated_at),
            (ReportCard, ReportCard.evaluated_at),
            (FeedbackRecord, FeedbackRecord.received_at),
        ):
            result = await connection.execute(delete(table).where(column < cutoff))
            deleted[table.__tablename__] = max(result.rowcount or 0, 0)
    return deleted


async def prune_forever(engine: AsyncEngine, retention_days: int) -> None:
    """The service's own pruning: now, then daily. A failure (database down) is logged and
    tried again the next day; it never stops the service."""
    while True:
        try:
            deleted = await prune_report_rows(engine, retention_days)
            log.info("report rows pruned", retention_days=retention_days, **deleted)
        except Exception as exc:
            log.warning("report pruning failed", **failure_fields(exc))
        await asyncio.sleep(_DAY_SECONDS)
