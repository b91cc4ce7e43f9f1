"""What the replay check of a signed call costs, in process, per store.

    .venv/bin/python bench/replay_check.py [--checks 1500] [--stores sqlite postgresql redis]

Builds each store as the service does (`app.replay_store.build_replay_store`: SQLite on a
file of its own, PostgreSQL on a throw-away database, Redis with a key prefix of its own),
then lets the stores take turns, one new `jti` each, and prints the p50 and p90 of
`remember` per store. The first tenth of the checks warms the pools up and is not counted.
No HTTP and no signature: `bench/bench_signed.py` measures the whole signed call.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from app.replay_store import SharedReplayStore, build_replay_store
from app.settings import Settings
from bench.servers import create_database, drop_database, migrate


def _store(name: str, database_url: str) -> SharedReplayStore:
    if name == "redis":
        return build_replay_store(
            Settings(
                redis_url="redis://127.0.0.1:6379/0",
                redis_key_prefix=f"opioid-cds-bench:{uuid.uuid4().hex}:",
            )
        )
    return build_replay_store(Settings(database_url=database_url))


async def _measure(stores: dict[str, SharedReplayStore], checks: int) -> dict[str, list[float]]:
    expires = datetime.now(UTC) + timedelta(minutes=10)
    times: dict[str, list[float]] = {name: [] for name in stores}
    for _ in range(checks):
        for name, store in stores.items():
            started = time.perf_counter()
            fresh = await store.remember(uuid.uuid4().hex, "https://ehr.bench.example", expires)
            times[name].append((time.perf_counter() - started) * 1000)
            if not fresh:
                raise SystemExit(f"{name}: a new jti was refused as a replay")
    for store in stores.values():
        await store.aclose()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=1500, help="new jtis per store")
    parser.add_argument("--stores", nargs="+", default=["sqlite", "postgresql", "redis"])
    parser.add_argument(
        "--admin-dsn",
        default=os.environ.get(
            "OPIOID_CDS_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        urls = {"sqlite": f"sqlite+aiosqlite:///{tmp}/replay.sqlite3", "redis": ""}
        if "postgresql" in args.stores:
            urls["postgresql"] = asyncio.run(create_database(args.admin_dsn, "opioid_cds_replay"))
        try:
            for name in args.stores:
                if name != "redis":
                    migrate(dict(os.environ, OPIOID_CDS_DATABASE_URL=urls[name]))

            async def run() -> dict[str, list[float]]:
                stores = {name: _store(name, urls[name]) for name in args.stores}
                return await _measure(stores, args.checks)

            times = asyncio.run(run())
        finally:
            if "postgresql" in urls:
                asyncio.run(drop_database(args.admin_dsn, urls["postgresql"]))
    load = os.getloadavg()[0]
    print(f"{args.checks} checks per store, taking turns; load average {load:.2f}")
    print(f"{'store':<12}{'p50':>9}{'p90':>9}")
    for name, samples in times.items():
        counted = sorted(samples[len(samples) // 10 :])
        p50 = statistics.median(counted)
        p90 = counted[int(len(counted) * 0.9)]
        print(f"{name:<12}{p50:>7.3f}ms{p90:>7.3f}ms")


if __name__ == "__main__":
    main()
