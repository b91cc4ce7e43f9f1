"""The documents' commands that start a server, started: `make serve` of the README and the
integration guide, and the production start of docs/authentication.md. Each runs as the
document gives it (the port, the database and the placeholders put to this machine's) until
the service answers, then is stopped."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
AUTHENTICATION = ROOT / "docs" / "authentication.md"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def _running(
    command: list[str], env: dict[str, str], port: int, output: list[str] | None = None
) -> Iterator[str]:
    """The command's server until the block ends; its output so far if it never answers, and
    all of it in `output` once it has stopped."""
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            printed = process.stdout.read() if process.stdout else ""
            pytest.fail(f"{command} did not start:\n{printed}")
        yield base
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        if process.stdout:
            if output is not None:
                output.append(process.stdout.read())
            process.stdout.close()


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_serve_answers_on_its_port(tmp_path: Path) -> None:
    """`make serve` (README, docs/integration.md): migrates, serves discovery and a hook."""
    port = _free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "OPIOID_CDS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'serve.sqlite3'}",
    }
    output: list[str] = []
    with _running(["make", "serve"], env, port, output) as base:
        discovery = httpx.get(f"{base}/cds-services", timeout=5)
        assert discovery.status_code == 200
        assert len(discovery.json()["services"]) == 3
    # The README tells a newcomer to wait for this line.
    assert f"Uvicorn running on http://127.0.0.1:{port}" in output[0]


def _production_start_block() -> str:
    text = AUTHENTICATION.read_text(encoding="utf-8")
    block = re.search(
        r"Then start the service with it:\n\n(?:<!--.*?-->\n)?```sh\n(.*?)```", text, re.DOTALL
    )
    assert block is not None, "docs/authentication.md: the production start block moved"
    return block.group(1)


def test_the_production_start_of_authentication_md_refuses_calls_without_a_token(
    tmp_path: Path,
) -> None:
    trust = tmp_path / "trusted-clients.yaml"
    trust.write_text(
        json.dumps(
            {"clients": [{"iss": "https://his.example", "jwks_url": "https://his.example/jwks"}]}
        )
    )
    port = _free_port()
    database = f"sqlite+aiosqlite:///{tmp_path / 'production.sqlite3'}"
    script = (
        _production_start_block()
        .replace("postgresql+asyncpg://cds@db:5432/opioid_cds", database)
        .replace("/etc/opioid-cds/trusted-clients.yaml", str(trust))
        .replace(
            "OPIOID_CDS_AUDIT_SECRET=...", "OPIOID_CDS_AUDIT_SECRET=a-secret-for-this-test-only"
        )
        .replace("--host 0.0.0.0 --port 8000", f"--host 127.0.0.1 --port {port}")
    )
    assert "..." not in script and "8000" not in script, "a placeholder the test does not fill"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    with _running(["sh", "-c", script], env, port) as base:
        assert httpx.get(f"{base}/cds-services", timeout=5).status_code == 401
