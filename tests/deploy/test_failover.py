"""bench/failover.py, short: two replicas behind a proxy on one PostgreSQL database, one
killed with SIGKILL under load (docs/operations.md, "Failover")."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from app.settings import PROJECT_ROOT
from bench.failover import Call, failures
from tests.conftest import fresh_postgres_database


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


@pytest.mark.postgres
def test_killing_a_replica_under_load_loses_no_acknowledged_feedback() -> None:
    script = str(PROJECT_ROOT / "bench" / "failover.py")
    with fresh_postgres_database("opioid_cds_failover") as database_url:
        arguments = ["--database-url", database_url, "--seconds", "4", "--clients", "6"]
        run = subprocess.run(
            [sys.executable, script, *arguments], capture_output=True, text=True, timeout=90
        )
    assert run.returncode == 0, run.stdout + run.stderr
    counts = json.loads(run.stdout)

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
