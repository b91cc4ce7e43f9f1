"""Failover on this machine: two replicas behind a proxy, sharing PostgreSQL; one is killed
under load.

1. A fresh PostgreSQL database, migrated once (`opioid-cds migrate`, as the deployment's
   migration step does); replicas A and B (production settings, one uvicorn worker each, a
   trust file with a P-384 key made for the run) and a proxy in front of them: bench/proxy.py,
   or with `--proxy nginx` the deployment's own deploy/nginx.conf (bench/nginx_proxy.py).
2. `--clients` concurrent clients send feedback posts and `order-sign` calls through the
   proxy for `--seconds`, each call with its own signed token. Halfway, A gets SIGKILL.
3. The promises, counted:
   - every feedback the service acknowledged (200, `"stored": 1`) is in the database;
   - a call fails only when it was in flight as A died (sent before A was gone, answered
     after the kill); calls after the kill are answered by B;
   - tokens that A accepted, replayed on B, are refused (401) and store nothing (and a
     fresh token on B is accepted: the refusals are the replay check, not a broken B);
   - no token appears in either replica's log, nor in the proxy's.

It prints the counts as JSON and exits 1 when a promise is broken. Bounded: the load lasts
`--seconds`, the whole run at most `--timeout` seconds (start-up included).

    .venv/bin/python bench/failover.py [--seconds 6] [--clients 8] [--proxy nginx] \\
        [--admin-dsn postgresql://postgres@127.0.0.1:5432/test | --database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from app.db import FeedbackRecord  # noqa: E402
from bench.nginx_proxy import start_nginx  # noqa: E402
from bench.proxy import BACKENDS_VARIABLE  # noqa: E402
from bench.realistic_request import realistic_order_sign  # noqa: E402
from bench.servers import (  # noqa: E402
    create_database,
    drop_database,
    free_port,
    migrate,
    start_server,
    wait_ready,
)

ISSUER = "https://failover-test-ehr.example"
KID = "failover-test-key"
HOOK_PATH = "/cds-services/opioid-order-sign"
FEEDBACK_PATH = HOOK_PATH + "/feedback"
# What the image passes uvicorn (Dockerfile): believe X-Forwarded-* from the proxy only.
PROXY_HEADERS = ("--proxy-headers", "--forwarded-allow-ips", "127.0.0.1")


@dataclass
class Call:
    kind: str  # "feedback" or "hook"
    started: float
    ended: float
    status: int  # 0: no HTTP answer at all
    upstream: str | None  # the replica that answered, as the proxy names it
    token: str
    card: str | None = None
    acknowledged: bool = False  # feedback answered 200 with "stored": 1


def in_flight(call: Call, killed_at: float, dead_at: float) -> bool:
    """Sent before the replica was gone, answered after it was sent SIGKILL."""
    return call.started <= dead_at and call.ended >= killed_at


def failures(calls: list[Call], killed_at: float, dead_at: float) -> tuple[int, int]:
    """(failed calls in flight at the kill, failed calls at any other time)."""
    failed = [call for call in calls if call.status != 200]
    during = sum(1 for call in failed if in_flight(call, killed_at, dead_at))
    return during, len(failed) - during


class Signer:
    def __init__(self, audience_base: str) -> None:
        self.key = ec.generate_private_key(ec.SECP384R1())
        self.audience_base = audience_base

    def public_jwk(self) -> dict[str, Any]:
        jwk = ECAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        jwk.update(kid=KID, use="sig", alg="ES384")
        return jwk

    def token(self, path: str) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": self.audience_base + path,
            "iat": now,
            "exp": now + 300,
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode(claims, self.key, algorithm="ES384", headers={"kid": KID, "typ": "JWT"})


def _feedback(card: str) -> dict[str, Any]:
    item = {"card": card, "outcome": "overridden", "outcomeTimestamp": "2026-11-22T10:00:00Z"}
    return {"feedback": [item]}


async def _one_call(
    client: httpx.AsyncClient, base: str, signer: Signer, kind: str, hook_body: dict[str, Any]
) -> Call:
    card = str(uuid.uuid4()) if kind == "feedback" else None
    path = FEEDBACK_PATH if card else HOOK_PATH
    token = signer.token(path)
    body = _feedback(card) if card else {**hook_body, "hookInstance": str(uuid.uuid4())}
    started = time.monotonic()
    try:
        response = await client.post(
            base + path, json=body, headers={"Authorization": f"Bearer {token}"}
        )
    except httpx.HTTPError:
        return Call(kind, started, time.monotonic(), 0, None, token, card)
    ended = time.monotonic()
    acknowledged = bool(card) and response.status_code == 200 and response.json()["stored"] == 1
    upstream = _replica_url(response.headers.get("x-upstream"))
    return Call(kind, started, ended, response.status_code, upstream, token, card, acknowledged)


def _replica_url(header: str | None) -> str | None:
    """The replica that answered: bench/proxy.py names its URL, nginx its address (after
    the ones it tried first, comma-separated)."""
    if not header:
        return None
    last = header.rsplit(",", 1)[-1].strip()
    return last if last.startswith("http") else f"http://{last}"


async def _load(
    proxy: str,
    signer: Signer,
    clients: int,
    seconds: float,
    kill: Callable[[], tuple[float, float]],
) -> tuple[list[Call], float, float]:
    """`clients` loops of alternating feedback and hook calls for `seconds`; `kill()` halfway
    returns (killed_at, dead_at)."""
    calls: list[Call] = []
    hook_body = realistic_order_sign()
    end = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=20, limits=limits) as client:

        async def loop(index: int) -> None:
            turn = index
            while time.monotonic() < end:
                kind = "feedback" if turn % 2 == 0 else "hook"
                calls.append(await _one_call(client, proxy, signer, kind, hook_body))
                turn += 1

        async def killer() -> tuple[float, float]:
            await asyncio.sleep(seconds / 2)
            killed_at, dead_at = kill()
            return killed_at, dead_at

        killing = asyncio.create_task(killer())
        await asyncio.gather(*(loop(index) for index in range(clients)))
        killed_at, dead_at = await killing
    return calls, killed_at, dead_at


async def _stored_cards(database_url: str, cards: list[str]) -> set[str]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.scalars(
                select(FeedbackRecord.card_uuid).where(FeedbackRecord.card_uuid.in_(cards))
            )
            return set(rows)
    finally:
        await engine.dispose()


async def _replays_on_b(
    b: str, signer: Signer, tokens: list[str], database_url: str
) -> dict[str, Any]:
    """Tokens A accepted, sent straight to B with new cards; and one fresh token as control."""
    cards = [str(uuid.uuid4()) for _ in tokens]
    async with httpx.AsyncClient(timeout=20) as client:
        answers = await asyncio.gather(
            *(
                client.post(
                    b + FEEDBACK_PATH,
                    json=_feedback(card),
                    headers={"Authorization": f"Bearer {token}"},
                )
                for token, card in zip(tokens, cards, strict=True)
            )
        )
        control = await client.post(
            b + FEEDBACK_PATH,
            json=_feedback(str(uuid.uuid4())),
            headers={"Authorization": f"Bearer {signer.token(FEEDBACK_PATH)}"},
        )
    return {
        "replayed_on_b": len(tokens),
        "replays_refused_401": sum(1 for answer in answers if answer.status_code == 401),
        "replay_feedback_stored": len(await _stored_cards(database_url, cards)),
        "fresh_token_on_b_status": control.status_code,
    }


def _rss_mib(pid: int) -> float | None:
    """Resident memory of a process (Linux), for sizing; None elsewhere."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return round(kib / 1024, 1)


def _kill(replica: subprocess.Popen[bytes]) -> tuple[float, float]:
    killed_at = time.monotonic()
    replica.send_signal(signal.SIGKILL)
    replica.wait()  # reaped: its sockets are closed, nothing it held is in flight any more
    return killed_at, time.monotonic()


def _verdict(result: dict[str, Any]) -> list[str]:
    """The promises that were broken (empty: all kept)."""
    broken = []
    if result["feedback_lost"]:
        broken.append("acknowledged feedback missing from the database")
    if result["errors_outside_the_kill"]:
        broken.append("calls failed that were not in flight when the replica died")
    if not result["answered_after_the_kill_by"].get("B"):
        broken.append("no call was answered after the kill")
    if not all(result["answered_before_the_kill_by"].get(name) for name in ("A", "B")):
        broken.append("the proxy did not spread the calls over both replicas")
    replays = result["replays"]
    if not replays["replayed_on_b"] or replays["replays_refused_401"] != replays["replayed_on_b"]:
        broken.append("a token used on A was not refused on B")
    if replays["replay_feedback_stored"] or replays["fresh_token_on_b_status"] != 200:
        broken.append("the replay check on B did not behave")
    if result["tokens_in_replica_logs"]:
        broken.append("tokens appear in a replica's log")
    if result["tokens_in_proxy_log"]:
        broken.append("tokens appear in the proxy's log")
    return broken


async def _measure(
    args: argparse.Namespace, database_url: str, tmp: Path, procs: list[subprocess.Popen[bytes]]
) -> dict[str, Any]:
    ports = {"A": free_port(), "B": free_port(), "proxy": free_port()}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    signer = Signer(urls["proxy"])
    trust = tmp / "trusted-clients.json"
    trust.write_text(
        json.dumps({"clients": [{"iss": ISSUER, "jwks": {"keys": [signer.public_jwk()]}}]})
    )
    env = dict(
        os.environ,
        OPIOID_CDS_ENVIRONMENT="production",
        OPIOID_CDS_AUDIT_SECRET="failover-test-audit-secret-0123456789",
        OPIOID_CDS_DATABASE_URL=database_url,
        OPIOID_CDS_TRUSTED_CLIENTS=str(trust),
        OPIOID_CDS_PUBLIC_BASE_URL=urls["proxy"],
        OPIOID_CDS_LOG_LEVEL="WARNING",
    )
    migrate(env)  # once, before any replica starts: replicas never migrate
    replicas = {
        name: start_server(ports[name], env, tmp / f"{name}.log", extra=PROXY_HEADERS)
        for name in ("A", "B")
    }
    procs.extend(replicas.values())
    if args.proxy == "nginx":
        backends = [f"127.0.0.1:{ports[name]}" for name in ("A", "B")]
        proxy = start_nginx(backends, ports["proxy"], tmp, tmp / "proxy.log")
    else:
        proxy_env = dict(os.environ, **{BACKENDS_VARIABLE: f"{urls['A']},{urls['B']}"})
        proxy = start_server(
            ports["proxy"], proxy_env, tmp / "proxy.log", app="bench.proxy:create_proxy"
        )
    procs.append(proxy)
    await asyncio.gather(
        *(wait_ready(urls[name], replicas[name], seconds=args.timeout) for name in replicas),
        wait_ready(urls["proxy"], proxy, path="/healthz", seconds=args.timeout),
    )

    began = time.monotonic()
    calls, killed_at, dead_at = await _load(
        urls["proxy"], signer, args.clients, args.seconds, lambda: _kill(replicas["A"])
    )
    load_wall = time.monotonic() - began
    names = {urls["A"]: "A", urls["B"]: "B"}
    before = Counter(
        names.get(c.upstream or "") for c in calls if c.status == 200 and c.ended < killed_at
    )
    after = Counter(
        names.get(c.upstream or "") for c in calls if c.status == 200 and c.started > dead_at
    )
    acknowledged = [call.card for call in calls if call.acknowledged and call.card]
    stored = await _stored_cards(database_url, acknowledged)
    during, outside = failures(calls, killed_at, dead_at)
    used_on_a = [
        c.token
        for c in calls
        if c.kind == "feedback" and c.status == 200 and c.upstream == urls["A"]
    ][: args.replays]
    replays = await _replays_on_b(urls["B"], signer, used_on_a, database_url)

    rss_b = _rss_mib(replicas["B"].pid)
    for replica in replicas.values():
        if replica.poll() is None:
            replica.terminate()
            replica.wait(timeout=10)
    proxy.terminate()
    proxy.wait(timeout=10)
    logs = "".join((tmp / f"{name}.log").read_text(errors="replace") for name in replicas)
    proxy_log = (tmp / "proxy.log").read_text(errors="replace")
    signatures = [call.token.rsplit(".", 1)[1] for call in calls]
    return {
        "proxy": args.proxy,
        "clients": args.clients,
        "load_seconds": round(load_wall, 1),
        "calls": len(calls),
        "calls_per_second": round(len(calls) / load_wall, 1),
        "statuses": dict(Counter(str(call.status) for call in calls)),
        "hook_calls_answered_200": sum(1 for c in calls if c.kind == "hook" and c.status == 200),
        "feedback_acknowledged": len(acknowledged),
        "feedback_acknowledged_in_database": len(stored),
        "feedback_lost": len(set(acknowledged) - stored),
        "errors_in_flight_at_the_kill": during,
        "errors_outside_the_kill": outside,
        "kill_to_reaped_ms": round((dead_at - killed_at) * 1000, 1),
        "answered_before_the_kill_by": dict(before),
        "answered_after_the_kill_by": dict(after),
        "replays": replays,
        "replica_b_rss_mib_after_load": rss_b,
        "tokens_in_replica_logs": sum(1 for signature in signatures if signature in logs),
        "tokens_in_proxy_log": sum(1 for signature in signatures if signature in proxy_log),
        "proxy_log_lines": len(proxy_log.splitlines()),
    }


async def run(args: argparse.Namespace) -> int:
    created = args.database_url is None
    database_url = args.database_url or await create_database(args.admin_dsn, "opioid_cds_failover")
    procs: list[subprocess.Popen[bytes]] = []
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            result = await asyncio.wait_for(
                _measure(args, database_url, Path(tmp), procs), timeout=args.timeout
            )
    except TimeoutError:
        print(f"FAIL: the run took longer than {args.timeout:.0f} s", file=sys.stderr)
        return 1
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()  # nginx: a SIGKILL would leave its workers behind
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if created:
            await drop_database(args.admin_dsn, database_url)
    result["wall_seconds"] = round(time.monotonic() - started, 1)
    broken = _verdict(result)
    result["ok"] = not broken
    print(json.dumps(result, indent=2))
    for promise in broken:
        print(f"FAIL: {promise}", file=sys.stderr)
    print("PASS" if not broken else "FAIL", file=sys.stderr)
    return 0 if not broken else 1


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
        "--database-url", default=None, help="an empty database to use instead of a new one"
    )
    parser.add_argument("--seconds", type=float, default=6.0, help="how long the load lasts")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--replays", type=int, default=20, help="tokens of A to replay on B")
    parser.add_argument("--timeout", type=float, default=55.0, help="bound of the whole run")
    parser.add_argument(
        "--proxy",
        choices=["python", "nginx"],
        default="python",
        help="bench/proxy.py, or deploy/nginx.conf run by the machine's nginx",
    )
    args = parser.parse_args()
    raise SystemExit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
