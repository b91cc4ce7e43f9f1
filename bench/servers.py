"""What the HTTP benchmarks share: a free loopback port, a throw-away PostgreSQL database,
migrating it, and starting the service (one uvicorn process) until it is ready."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import asyncpg
import httpx

__all__ = [
    "ROOT",
    "create_database",
    "drop_database",
    "free_port",
    "migrate",
    "start_server",
    "wait_ready",
]

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def migrate(env: dict[str, str], root: Path = ROOT, python: str = sys.executable) -> None:
    """`opioid-cds migrate` of the checkout at `root`, on the database `env` names."""
    subprocess.run(
        [python, "-m", "app.cli", "migrate"],
        cwd=root,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


async def create_database(admin_dsn: str, prefix: str) -> str:
    """A new, empty database on the PostgreSQL of `admin_dsn`; its SQLAlchemy URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    connection = await asyncpg.connect(admin_dsn, timeout=5)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    base = admin_dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


async def drop_database(admin_dsn: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    connection = await asyncpg.connect(admin_dsn, timeout=5)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


def start_server(
    port: int,
    env: dict[str, str],
    log: Path,
    app: str = "app.main:create_app",
    extra: Sequence[str] = (),
) -> subprocess.Popen[bytes]:
    """One uvicorn process (one worker) of the factory `app` on 127.0.0.1:`port`, its output
    to `log`."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--log-level",
            "warning",
            "--no-access-log",
            *extra,
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


async def wait_ready(
    base: str, server: subprocess.Popen[bytes], path: str = "/readyz", seconds: float = 30
) -> None:
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(timeout=1) as client:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError("the server exited during start-up")
            try:
                if (await client.get(base + path)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"the server did not become ready within {seconds:.0f} s")
