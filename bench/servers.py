"""What the HTTP benchmarks share: a free loopback port, a throw-away PostgreSQL database,
and migrating the database of a checkout before its server starts."""

from __future__ import annotations

import socket
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg

__all__ = ["ROOT", "create_postgres_database", "drop_postgres_database", "free_port", "migrate"]

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


async def create_postgres_database(admin_dsn: str, prefix: str) -> str:
    """A new, empty database on the server of `admin_dsn`; returns its SQLAlchemy URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    connection = await asyncpg.connect(admin_dsn, timeout=5)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    base = admin_dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


async def drop_postgres_database(admin_dsn: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    connection = await asyncpg.connect(admin_dsn, timeout=5)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()
