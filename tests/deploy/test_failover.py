"""bench/failover.py, short: two replicas behind a proxy on one PostgreSQL database, one
killed with SIGKILL under load (docs/operations.md, "Failover"); the proxy is bench/proxy.py
and, where the machine has nginx (CI installs it), the deployment's own deploy/nginx.conf."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app.settings import PROJECT_ROOT
from bench.failover import Call, failures
from bench.nginx_proxy import NGINX, SHIPPED, loopback_config
from tests.conftest import _require, fresh_postgres_database


def _call(started: float, ended: float, status: int) -> Call:
    return Call("feedback", started, ended, status, None, "token")


def test_only_failures_in_flight_at_the_kill_are_excused() -> None:
    killed_at, dead_at = 10.0, 10.1
    calls = [
        _call(9.0, 9.5, 200),  # before
        _call(9.8, 10.05, 502),  # in flight: sent before, answered after the kill
        _call(10.05, 10.2, 0),  # sent while the replica was dying
        _call(9.0, 9.9, 502),  # failed before the kill: not excused
        _call(10.5, 10.6, 502),  # failed after the replica was gone: not excused
        _call(10.5, 10.6, 200),
    ]

    assert failures(calls, killed_at, dead_at) == (2, 2)


def _nginx() -> None:
    """Skip (fail under CI) when the machine has no nginx."""
    if not os.access(NGINX, os.X_OK):
        message = f"nginx is not installed ({NGINX}); apt-get install nginx-light"
        if _require("OPIOID_CDS_REQUIRE_NGINX"):
            pytest.fail(message)
        pytest.skip(message)


def test_the_loopback_nginx_config_is_the_shipped_one_but_for_the_upstream(
    tmp_path: Path,
) -> None:
    shipped = SHIPPED.read_text()
    config = loopback_config(shipped, ["127.0.0.1:9001", "127.0.0.1:9002"], 9000, tmp_path)
    assert "server 127.0.0.1:9001 max_fails=1 fail_timeout=5s;" in config
    assert "server 127.0.0.1:9002 max_fails=1 fail_timeout=5s;" in config
    assert "listen 127.0.0.1:9000;" in config
    shipped_lines = {line.strip() for line in shipped.splitlines()}
    added = {line.strip() for line in config.splitlines()} - shipped_lines
    assert added == {
        "server 127.0.0.1:9001 max_fails=1 fail_timeout=5s;",
        "server 127.0.0.1:9002 max_fails=1 fail_timeout=5s;",
        "listen 127.0.0.1:9000;",
        f"pid {tmp_path / 'nginx.pid'};",
        "add_header X-Upstream $upstream_addr always;",
    }


def test_the_shipped_nginx_config_passes_nginx_t(tmp_path: Path) -> None:
    _nginx()
    config = tmp_path / "nginx.conf"
    config.write_text(loopback_config(SHIPPED.read_text(), ["127.0.0.1:9001"], 9000, tmp_path))
    check = subprocess.run(
        [NGINX, "-t", "-c", str(config), "-p", str(tmp_path), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "test is successful" in check.stderr


def _failover(proxy: str) -> dict[str, Any]:
    script = str(PROJECT_ROOT / "bench" / "failover.py")
    with fresh_postgres_database("opioid_cds_failover") as database_url:
        arguments = ["--database-url", database_url, "--seconds", "4", "--clients", "6"]
        run = subprocess.run(
            [sys.executable, script, *arguments, "--proxy", proxy],
            capture_output=True,
            text=True,
            timeout=90,
        )
    assert run.returncode == 0, run.stdout + run.stderr
    counts: dict[str, Any] = json.loads(run.stdout)
    return counts


@pytest.mark.postgres
@pytest.mark.parametrize("proxy", ["python", "nginx"])
def test_killing_a_replica_under_load_loses_no_acknowledged_feedback(proxy: str) -> None:
    if proxy == "nginx":
        _nginx()
    counts = _failover(proxy)

    assert counts["proxy"] == proxy
    assert counts["feedback_acknowledged"] > 0
    assert counts["feedback_acknowledged_in_database"] == counts["feedback_acknowledged"]
    assert counts["errors_outside_the_kill"] == 0
    assert counts["answered_before_the_kill_by"]["A"] > 0
    assert counts["answered_after_the_kill_by"]["B"] > 0
    assert "A" not in counts["answered_after_the_kill_by"]
    assert counts["replays"]["replayed_on_b"] > 0
    assert counts["replays"]["replays_refused_401"] == counts["replays"]["replayed_on_b"]
    assert counts["replays"]["replay_feedback_stored"] == 0
    assert counts["tokens_in_replica_logs"] == 0
    assert counts["tokens_in_proxy_log"] == 0
