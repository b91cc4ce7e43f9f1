"""No audit event of an answered call is lost when the service process is killed (kill -9).

The service runs as a real uvicorn process on a throw-away database; calls are sent
concurrently and the process is killed right after the last answer, while events of the
last moments would still wait for a batch. Then the journal is shipped, as the next start
does, and every answered call must be in the audit trail.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.audit import AuditWriter
from app.audit_journal import AuditJournal
from app.db import CardEvent, create_engine_for, migrate
from tests.cds_hooks.prefetch.servers import free_port
from tests.sample_requests import hook_request

ROOT = Path(__file__).resolve().parents[2]
SERVICE = "/cds-services/opioid-order-sign"
CALLS = 60


@pytest.fixture
def service(database_url: str, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    migrate(database_url)
    port = free_port()
    env = dict(
        os.environ,
        OPIOID_CDS_DATABASE_URL=database_url,
        OPIOID_CDS_AUDIT_JOURNAL_DIR=str(tmp_path / "journal"),
        OPIOID_CDS_LOG_LEVEL="WARNING",
    )
    command = [sys.executable, "-m", "uvicorn", "--factory", "app.main:create_app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            assert process.poll() is None, "the service exited at start-up"
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the service did not start within 60 s"
                time.sleep(0.2)
        yield base, process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def _call(base: str, index: int) -> str | None:
    """The call's hookInstance when it was answered with cards."""
    hook_instance = f"kill-test-{index}"
    body = {**hook_request("order-sign"), "hookInstance": hook_instance}
    response = httpx.post(base + SERVICE, json=body, timeout=30)
    return hook_instance if response.status_code == 200 else None


async def _ship_and_read(database_url: str, journal: Path) -> list[str]:
    engine = create_engine_for(database_url)
    try:
        factory = async_sessionmaker(engine, expire_on_commit=False)
        assert await AuditWriter(factory, AuditJournal(journal)).flush()
        async with factory() as session:
            stored = await session.scalars(
                select(CardEvent.hook_instance).where(CardEvent.hook_instance.like("kill-test-%"))
            )
            return sorted(stored)
    finally:
        await engine.dispose()


def test_kill_9_loses_no_audit_event_of_an_answered_call(
    service: tuple[str, subprocess.Popen[bytes]], database_url: str, tmp_path: Path
) -> None:
    base, process = service
    with ThreadPoolExecutor(max_workers=8) as pool:
        answered = {hook for hook in pool.map(lambda i: _call(base, i), range(CALLS)) if hook}
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    assert len(answered) == CALLS
    stored = asyncio.run(_ship_and_read(database_url, tmp_path / "journal"))
    assert answered <= set(stored)
    assert stored == sorted(answered)  # and nothing twice or invented
