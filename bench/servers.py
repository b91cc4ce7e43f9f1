"""What the HTTP benchmarks share: a free loopback port, and migrating the database of a
checkout before its server starts."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

__all__ = ["ROOT", "free_port", "migrate"]

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
