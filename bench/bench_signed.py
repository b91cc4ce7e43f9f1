"""What a signed call costs over an unsigned one, per replay store, with wrk.

Starts one service per replay store (SQLite, PostgreSQL, Redis), each trusting a key made
here, and lets `wrk` POST the realistic order-sign of `bench/realistic_request.py` to each,
unsigned and signed in turn, round after round. Every signed request carries a token of its
own (a fresh `jti`, as a real client sends): they are signed beforehand, one file per wrk
run, and the Lua script cycles through them (more requests than tokens would replay one,
and wrk's error count stops the bench). Prints p50/p90/p99 per run and the signed-minus-
unsigned p50 per store, the median over the rounds.

    .venv/bin/python bench/bench_signed.py [--stores sqlite postgresql redis] [--alg ES384]
        [--duration 8] [--rounds 3] [--connections 1]

Both modes go through the same Lua `request()` function, so wrk's own cost is the same on
both sides; an httpx client would add about 1.5 ms to both and hide the difference.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jwt
import orjson
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.bench_wrk import LUA, MARKER, PATH, Result, Server, check_server, run_wrk, start_server
from bench.realistic_request import realistic_order_sign
from bench.servers import (
    ROOT,
    create_database,
    drop_database,
    free_port,
    migrate,
)

ISSUER = "https://ehr.bench.example"
KID = "bench-key"

# Appended to bench_wrk's script: the Authorization header from the token file, if any.
SIGNED_LUA = """
local tokens = {}
local token_file = %s
if token_file ~= "" then
  for line in io.lines(token_file) do tokens[#tokens + 1] = line end
end
local next_token = 0
local plain = {["Content-Type"] = "application/json"}

request = function()
  if #tokens == 0 then
    return wrk.format(nil, nil, plain, nil)
  end
  next_token = next_token %% #tokens + 1
  local headers = {["Content-Type"] = "application/json"}
  headers["Authorization"] = "Bearer " .. tokens[next_token]
  return wrk.format(nil, nil, headers, nil)
end
"""


def _key(alg: str) -> Any:
    if alg.startswith("ES"):
        curve = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}
        return ec.generate_private_key(curve[alg])
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _trust_file(directory: Path, key: Any, alg: str) -> Path:
    algorithm = ECAlgorithm if alg.startswith("ES") else RSAAlgorithm
    jwk: dict[str, Any] = algorithm.to_jwk(key.public_key(), as_dict=True)
    jwk.update(kid=KID, use="sig", alg=alg)
    path = directory / "trusted-clients.json"
    path.write_text(json.dumps({"clients": [{"iss": ISSUER, "jwks": {"keys": [jwk]}}]}))
    return path


def _tokens(path: Path, key: Any, alg: str, audience: str, count: int, lifetime: int) -> None:
    now = int(time.time())
    with path.open("w") as out:
        for _ in range(count):
            claims = {
                "iss": ISSUER,
                "aud": audience,
                "iat": now,
                "exp": now + lifetime,
                "jti": str(uuid.uuid4()),
            }
            out.write(jwt.encode(claims, key, algorithm=alg, headers={"kid": KID}) + "\n")


def _script(directory: Path, name: str, body_path: Path, token_path: Path | None) -> Path:
    script = directory / f"{name}.lua"
    tokens = json.dumps(str(token_path) if token_path else "")
    script.write_text(LUA % (json.dumps(str(body_path)), MARKER) + SIGNED_LUA % tokens)
    return script


@contextmanager
def _services(
    stores: list[str], tmp: Path, trust: Path, admin_dsn: str
) -> Iterator[dict[str, Server]]:
    base = dict(
        os.environ,
        OPIOID_CDS_LOG_LEVEL="WARNING",
        OPIOID_CDS_TRUSTED_CLIENTS=str(trust),
        OPIOID_CDS_JWT_ALGORITHMS=json.dumps(["ES256", "ES384", "RS384"]),
    )
    servers: dict[str, Server] = {}
    databases: list[str] = []
    try:
        for store in stores:
            env = dict(base, OPIOID_CDS_DATABASE_URL=f"sqlite+aiosqlite:///{tmp}/{store}.sqlite3")
            if store == "postgresql":
                url = asyncio.run(create_database(admin_dsn, "opioid_cds_bench"))
                databases.append(url)
                env["OPIOID_CDS_DATABASE_URL"] = url
            if store == "redis":
                env["OPIOID_CDS_REDIS_URL"] = "redis://127.0.0.1:6379/0"
                env["OPIOID_CDS_REDIS_KEY_PREFIX"] = f"opioid-cds-bench:{uuid.uuid4().hex}:"
            migrate(env)
            port = free_port()
            servers[store] = start_server("app.main:create_app", port, env, ROOT, sys.executable)
        yield servers
    finally:
        for server in servers.values():
            server.process.terminate()
        for server in servers.values():
            server.process.wait(timeout=10)
        for url in databases:
            asyncio.run(drop_database(admin_dsn, url))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", nargs="+", default=["sqlite", "postgresql", "redis"])
    parser.add_argument("--alg", default="ES384", choices=["ES256", "ES384", "RS384"])
    parser.add_argument("--duration", type=float, default=8, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument(
        "--admin-dsn",
        default=os.environ.get(
            "OPIOID_CDS_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    args = parser.parse_args()

    body = orjson.dumps(realistic_order_sign())
    key = _key(args.alg)
    results: list[tuple[int, str, str, Result]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        body_path = tmp / "body.json"
        body_path.write_bytes(body)
        trust = _trust_file(tmp, key, args.alg)
        unsigned = _script(tmp, "unsigned", body_path, None)
        with _services(args.stores, tmp, trust, args.admin_dsn) as servers:
            for name, server in servers.items():
                check_server(name, server, body)
                run_wrk(server.port, unsigned, args.connections, 2)  # warm-up
            # Tokens for one run: the unsigned rate, with room to spare.
            rate = max(run_wrk(s.port, unsigned, args.connections, 2).rps for s in servers.values())
            per_run = int(rate * 1.5 * args.duration) + 500
            lifetime = int(args.rounds * len(servers) * 2 * (args.duration + 60)) + 600
            signed: dict[tuple[int, str], Path] = {}
            for round_ in range(1, args.rounds + 1):
                for name, server in servers.items():
                    tokens = tmp / f"tokens-{round_}-{name}.txt"
                    audience = f"http://127.0.0.1:{server.port}{PATH}"
                    _tokens(tokens, key, args.alg, audience, per_run, lifetime)
                    signed[round_, name] = _script(
                        tmp, f"signed-{round_}-{name}", body_path, tokens
                    )
            started, load_before = time.strftime("%Y-%m-%d %H:%M:%S %Z"), os.getloadavg()[0]
            for round_ in range(1, args.rounds + 1):
                modes = [("unsigned", None), ("signed", round_)]
                for name, server in servers.items():
                    # Every other round signed first, so neither mode always runs second.
                    for mode, _ in modes if round_ % 2 else reversed(modes):
                        script = unsigned if mode == "unsigned" else signed[round_, name]
                        result = run_wrk(server.port, script, args.connections, args.duration)
                        results.append((round_, name, mode, result))
            load_after = os.getloadavg()[0]

    print(f"started {started}; load average {load_before:.2f} before, {load_after:.2f} after")
    print(f"alg {args.alg}; {per_run} tokens per signed run; {args.rounds} rounds of")
    print(f"{args.duration:g} s per store and mode, wrk -t1 -c{args.connections}\n")
    _table(results)


def _table(results: list[tuple[int, str, str, Result]]) -> None:
    print(f"{'round':<6}{'store':<12}{'mode':<10}{'p50':>9}{'p90':>9}{'p99':>9}{'req/s':>8}")
    for round_, store, mode, res in results:
        print(
            f"{round_:<6}{store:<12}{mode:<10}{res.p50_ms:>7.2f}ms{res.p90_ms:>7.2f}ms"
            f"{res.p99_ms:>7.2f}ms{res.rps:>8.0f}"
        )
    by_run = {(r, s, m): res for r, s, m, res in results}
    print("\nsigned minus unsigned, p50 (median over rounds, range):")
    for store in dict.fromkeys(s for _, s, _, _ in results):
        rounds = sorted({r for r, s, _, _ in results if s == store})
        extra = [
            by_run[r, store, "signed"].p50_ms - by_run[r, store, "unsigned"].p50_ms for r in rounds
        ]
        unsigned = statistics.median(by_run[r, store, "unsigned"].p50_ms for r in rounds)
        print(
            f"  {store:<12}{statistics.median(extra):+.2f} ms ({min(extra):+.2f} to "
            f"{max(extra):+.2f}) over an unsigned p50 of {unsigned:.2f} ms"
        )


if __name__ == "__main__":
    main()
