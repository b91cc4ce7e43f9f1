"""Shared fixtures: settings on a throw-away SQLite file, the machine's PostgreSQL and Redis,
and the service in-process.

PostgreSQL tests run in a database of their own, created for the session and dropped after.
Where PostgreSQL cannot be reached they are skipped, except under CI
(`OPIOID_CDS_REQUIRE_POSTGRES=1`), where that is a failure; the same for Redis
(`OPIOID_CDS_REQUIRE_REDIS=1`). Redis tests share the server, so each uses keys of its own.

Every test is also a log check: a passing test fails when a patient id, BSN, name or token
of the fixtures (`LOG_CANARIES`) turns up in a log line it produced (`pytest_runtest_makereport`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
import redis
from fastapi.testclient import TestClient

from app.db import migrate
from app.logging import OWN_LOGGERS
from app.main import create_app
from app.settings import Settings

POSTGRES_ADMIN_DSN = os.environ.get(
    "OPIOID_CDS_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_TEST_URL = os.environ.get("OPIOID_CDS_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


LOG_CANARIES = (
    "999908510",  # the BSN of fhir_fixtures' patients
    "Testpatiënt",  # their family name
    "pat-0001",  # their id
    "999911120",  # BSN and patient id of tests/app/test_privacy.py
    "Zwartkop",
    "fhir-access-token",  # the start of every fhirAuthorization token of the tests
)
"""Values the fixtures send that no log line may hold."""


def _log_lines(report: pytest.TestReport) -> list[str]:
    """What the test logged: the service's JSON lines on stdout, and the records of the
    service's own loggers that pytest captured (other libraries' raw records are not what
    the service writes: its handler filters them, `app.logging`)."""
    lines: list[str] = []
    for title, text in report.sections:
        if not title.endswith(report.when):  # a later phase's report repeats the earlier ones
            continue
        for line in text.splitlines():
            json_line = "stdout" in title and line.startswith('{"event": ')
            own_record = "log" in title and _captured_logger(line) in OWN_LOGGERS
            if json_line or own_record:
                lines.append(line)
    return lines


def _captured_logger(line: str) -> str:
    """The top-level logger name of a line of pytest's log capture
    (`WARNING  rules.engine:engine.py:271 ...`)."""
    return line[9:].partition(":")[0].partition(".")[0]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if not report.passed:
        return
    leaks = [line for line in _log_lines(report) if any(c in line for c in LOG_CANARIES)]
    if leaks:
        report.outcome = "failed"
        report.longrepr = "patient data or a token in the log:\n" + "\n".join(leaks[:5])


def _require(flag: str) -> bool:
    return os.environ.get(flag, "") in ("1", "true", "yes")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'service.sqlite3'}"


async def _admin(statement: str) -> None:
    connection = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextlib.contextmanager
def fresh_postgres_database(prefix: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards (skipped, or failed
    under OPIOID_CDS_REQUIRE_POSTGRES, when the server is not usable)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError) as exc:
        message = f"PostgreSQL at {POSTGRES_ADMIN_DSN} is not usable: {exc}"
        if _require("OPIOID_CDS_REQUIRE_POSTGRES"):
            pytest.fail(message)
        pytest.skip(message)
    base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with fresh_postgres_database("opioid_cds_test") as url:
        yield url


@pytest.fixture
def redis_url() -> str:
    """The machine's Redis (skipped, or failed under OPIOID_CDS_REQUIRE_REDIS, when down)."""
    try:
        with redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2) as client:
            client.ping()
    except (redis.RedisError, OSError) as exc:
        message = f"Redis at {REDIS_TEST_URL} is not usable: {exc}"
        if _require("OPIOID_CDS_REQUIRE_REDIS"):
            pytest.fail(message)
        pytest.skip(message)
    return REDIS_TEST_URL


@pytest.fixture
def redis_key_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix no other test (or engineer) uses; its keys are deleted afterwards."""
    prefix = f"opioid-cds-test:{uuid.uuid4().hex}:"
    yield prefix
    with redis.Redis.from_url(redis_url) as client:
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    if request.param == "sqlite":
        return sqlite_url
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def settings(sqlite_url: str) -> Settings:
    return Settings(database_url=sqlite_url, environment="development", trusted_clients=None)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    migrate(settings.database_url)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The development service on a SQLite file of its own, shared by one test module (for
    modules that post many requests and need no per-test database)."""
    database = tmp_path_factory.mktemp("service") / "service.sqlite3"
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{database}",
        environment="development",
        trusted_clients=None,
    )
    migrate(settings.database_url)
    with TestClient(create_app(settings)) as test_client:
        yield test_client
