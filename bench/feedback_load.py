"""Load check of client authentication: concurrent feedback posts with signed JWTs.

Starts the service (one uvicorn worker, `environment=production`, a trust file with a P-384
key made for the run) on a fresh PostgreSQL database, then

1. sends `--requests` (200) feedback posts at once, each with its own ES384 token (distinct
   `jti`) and its own card: every one must be answered 200 and stored;
2. sends `--replays` (50) of those tokens again, at once, with new cards: every one must be
   refused with 401 and nothing more may be stored.

It prints the figures (latency percentiles, wall time) and exits 1 if a check fails.

    .venv/bin/python bench/feedback_load.py \\
        [--admin-dsn postgresql://postgres@127.0.0.1:5432/test] [--requests 200] [--replays 50]

`--database-url sqlite+aiosqlite:///var/load.sqlite3` runs it on SQLite instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from app.db import FeedbackRecord, SeenJwtId  # noqa: E402
from bench.servers import (  # noqa: E402
    create_postgres_database,
    drop_postgres_database,
    free_port,
    migrate,
)

ISSUER = "https://load-test-ehr.example"
KID = "load-test-key"
FEEDBACK_PATH = "/cds-services/opioid-order-sign/feedback"


@dataclass
class Shot:
    status: int
    ms: float
    stored: int | None


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _summary(shots: list[Shot]) -> dict[str, float]:
    times = [shot.ms for shot in shots]
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(_percentile(times, 0.95), 1),
        "max_ms": round(max(times), 1),
    }


async def _count_rows(database_url: str, cards: list[str]) -> tuple[int, int]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            feedback = await connection.scalar(
                select(func.count())
                .select_from(FeedbackRecord)
                .where(FeedbackRecord.card_uuid.in_(cards))
            )
            seen = await connection.scalar(select(func.count()).select_from(SeenJwtId))
    finally:
        await engine.dispose()
    return int(feedback or 0), int(seen or 0)


def _feedback(card: str) -> dict[str, Any]:
    return {
        "feedback": [
            {"card": card, "outcome": "overridden", "outcomeTimestamp": "2026-11-22T10:00:00Z"}
        ]
    }


async def _post_all(url: str, posts: list[tuple[str, str]]) -> tuple[list[Shot], float]:
    """Send every post at the same moment, each on its own connection; a fresh client per
    batch, so no connection idles past the server's keep-alive timeout between batches."""
    limits = httpx.Limits(max_connections=len(posts), max_keepalive_connections=len(posts))
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        start = asyncio.Event()

        async def one(token: str, card: str) -> Shot:
            await start.wait()
            began = time.perf_counter()
            if token:
                response = await client.post(
                    url, json=_feedback(card), headers={"Authorization": f"Bearer {token}"}
                )
            else:
                response = await client.get(url)
            ms = (time.perf_counter() - began) * 1000
            stored = None
            if token and response.status_code == 200:
                stored = response.json().get("stored")
            return Shot(response.status_code, ms, stored)

        tasks = [asyncio.create_task(one(token, card)) for token, card in posts]
        await asyncio.sleep(0)
        began = time.perf_counter()
        start.set()
        shots = await asyncio.gather(*tasks)
        return list(shots), (time.perf_counter() - began) * 1000


def _start_server(port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "app.main:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


async def _wait_ready(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(timeout=1) as client:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError("the server exited during start-up")
            try:
                if (await client.get(base + "/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the server did not become ready within 30 s")


async def run(args: argparse.Namespace) -> int:
    private_key = ec.generate_private_key(ec.SECP384R1())
    public_jwk = ECAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    public_jwk.update(kid=KID, use="sig", alg="ES384")

    created = args.database_url is None
    database_url = args.database_url or await create_postgres_database(
        args.admin_dsn, "opioid_cds_load"
    )
    with tempfile.TemporaryDirectory() as tmp:
        trust = Path(tmp) / "trusted-clients.json"
        trust.write_text(json.dumps({"clients": [{"iss": ISSUER, "jwks": {"keys": [public_jwk]}}]}))
        log = Path(tmp) / "server.log"
        env = dict(
            os.environ,
            OPIOID_CDS_ENVIRONMENT="production",
            OPIOID_CDS_AUDIT_SECRET="load-test-audit-secret-0123456789",
            OPIOID_CDS_DATABASE_URL=database_url,
            OPIOID_CDS_TRUSTED_CLIENTS=str(trust),
            OPIOID_CDS_LOG_LEVEL="WARNING",
        )
        migrate(env)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = _start_server(port, env, log)
        try:
            await _wait_ready(base, server)
            result = await _load(args, private_key, base, database_url)
        finally:
            server.terminate()
            server.wait(timeout=10)
            server_log = log.read_text(errors="replace")
        if created:
            await drop_postgres_database(args.admin_dsn, database_url)

    # The tokens must not have reached the server's log (nor this script's output).
    tokens: list[str] = result.pop("_tokens")
    leaked = [token for token in tokens if token.split(".")[2] in server_log]
    result["database"] = database_url.split(":", 1)[0]
    result["tokens_in_server_log"] = len(leaked)
    print(json.dumps(result, indent=2))
    ok = bool(result["ok"]) and not leaked
    if leaked:
        print(f"FAIL: {len(leaked)} tokens appear in the server log", file=sys.stderr)
    print("PASS" if ok else "FAIL", file=sys.stderr)
    return 0 if ok else 1


async def _load(
    args: argparse.Namespace, private_key: ec.EllipticCurvePrivateKey, base: str, database_url: str
) -> dict[str, Any]:
    url = base + FEEDBACK_PATH
    now = int(time.time())
    tokens = [
        jwt.encode(
            {"iss": ISSUER, "aud": url, "iat": now, "exp": now + 300, "jti": str(uuid.uuid4())},
            private_key,
            algorithm="ES384",
            headers={"kid": KID, "typ": "JWT"},
        )
        for _ in range(args.requests)
    ]
    cards = [str(uuid.uuid4()) for _ in tokens]
    # The floor: as many concurrent GETs of /healthz (no auth, no database) on this machine.
    floor, floor_wall = await _post_all(base + "/healthz", [("", "")] * args.requests)
    first, first_wall = await _post_all(url, list(zip(tokens, cards, strict=True)))
    stored_rows, seen_rows = await _count_rows(database_url, cards)
    replay_cards = [str(uuid.uuid4()) for _ in range(args.replays)]
    replayed = list(zip(tokens[: args.replays], replay_cards, strict=True))
    replays, replay_wall = await _post_all(url, replayed)
    replay_rows, _ = await _count_rows(database_url, replay_cards)

    first_ok = sum(1 for shot in first if shot.status == 200 and shot.stored == 1)
    replays_refused = sum(1 for shot in replays if shot.status == 401)
    statuses: dict[str, int] = {}
    for shot in first + replays:
        statuses[str(shot.status)] = statuses.get(str(shot.status), 0) + 1
    ok = (
        first_ok == args.requests
        and stored_rows == args.requests
        and replays_refused == args.replays
        and replay_rows == 0
    )
    return {
        "ok": ok,
        "healthz_floor_wall_ms": round(floor_wall, 1),
        "healthz_floor_latency": _summary(floor),
        "concurrent_posts": args.requests,
        "answered_200_and_stored": first_ok,
        "feedback_rows_in_database": stored_rows,
        "seen_jwt_ids_rows": seen_rows,
        "posts_wall_ms": round(first_wall, 1),
        "posts_latency": _summary(first),
        "replays": args.replays,
        "replays_refused_401": replays_refused,
        "replay_feedback_rows": replay_rows,
        "replays_wall_ms": round(replay_wall, 1),
        "replays_latency": _summary(replays),
        "statuses": statuses,
        "_tokens": tokens,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--admin-dsn",
        default=os.environ.get(
            "OPIOID_CDS_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
        ),
        help="PostgreSQL to create (and afterwards drop) a throw-away database on",
    )
    parser.add_argument(
        "--database-url", default=None, help="use this database instead of a throw-away one"
    )
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--replays", type=int, default=50)
    args = parser.parse_args()
    if args.replays > args.requests:
        parser.error("--replays cannot exceed --requests")
    raise SystemExit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
