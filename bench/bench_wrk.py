"""Latency of a realistic `order-sign` request against the parse-only baseline, with wrk.

Starts the service (one uvicorn worker, throw-away SQLite) and the parse-only baseline app on
127.0.0.1, then lets `wrk` POST the request of `bench/realistic_request.py` to each in turn
and prints wrk's p50/p90/p99 and requests/s per route, and the p50 ratio to parse-only.

    .venv/bin/python bench/bench_wrk.py [--duration 10] [--rounds 3] [--connections 1 8]
        [--compare DIR] [--metrics]

wrk (C, one thread) adds far less to a round trip than an httpx client, which would hide the
ratio. `--compare DIR` also runs the service of another checkout (its own
`.venv`, compiled there) as the route 'compare', and prints the service's p50 over it round
by round; `--metrics` also runs this service with
`OPIOID_CDS_METRICS=true` as the route 'metrics' (the route 'order-sign' has them off).
Routes take turns, round after round: this VM's speed drifts within minutes, and a slow
spell should hit all alike.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.realistic_request import realistic_order_sign
from bench.servers import ROOT, free_port, migrate

PATH = "/cds-services/opioid-order-sign"
WRK = "/usr/bin/wrk"
MARKER = "BENCH_WRK_RESULT "

# done() reads wrk's own latency histogram (µs, exact) instead of its rounded text output;
# errors.status counts what its text calls "Non-2xx or 3xx responses" (in fact status >= 400).
LUA = """\
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = assert(io.open(%s, "rb"))
wrk.body = f:read("*a")
f:close()

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests":%%d,"duration_us":%%d,"status_errors":%%d,"socket_errors":%%d,'
    .. '"p50":%%.1f,"p90":%%.1f,"p99":%%.1f}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
"""


class Result(NamedTuple):
    p50_ms: float
    p90_ms: float
    p99_ms: float
    rps: float


class Server(NamedTuple):
    process: subprocess.Popen[bytes]
    port: int


def start_server(factory: str, port: int, env: dict[str, str], root: Path, python: str) -> Server:
    command = [python, "-m", "uvicorn", "--factory", factory, "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", "1", "--log-level", "warning"]
    process = subprocess.Popen(
        [*command, "--no-access-log"], cwd=root, env=env, stdout=subprocess.DEVNULL
    )
    return Server(process, port)


def _post(port: int, body: bytes) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", PATH, body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def check_server(name: str, server: Server, body: bytes) -> int:
    """Waits (at most 60 s) until the server accepts connections; fails unless it answers
    the request with 200 and a `cards` list. Returns the number of cards."""
    deadline = time.monotonic() + 60
    while True:
        if server.process.poll() is not None:
            raise SystemExit(f"{name}: server exited with {server.process.returncode}")
        try:
            status, answer = _post(server.port, body)
            break
        except ConnectionError:
            if time.monotonic() > deadline:
                raise SystemExit(f"{name}: server did not start within 60 s") from None
            time.sleep(0.2)
    if status != 200:
        raise SystemExit(f"{name}: sample request answered {status}: {answer[:500]!r}")
    cards: list[object] = orjson.loads(answer)["cards"]
    return len(cards)


def run_wrk(port: int, script: Path, connections: int, seconds: float) -> Result:
    # One wrk thread: the VM has 2 vCPUs, one for the server and one for the client.
    command = [WRK, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "--timeout=5s"]
    command += ["-s", str(script), f"http://127.0.0.1:{port}{PATH}"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30)
    lines = [line for line in run.stdout.splitlines() if line.startswith(MARKER)]
    if run.returncode != 0 or not lines:
        raise SystemExit(f"wrk failed ({run.returncode}):\n{run.stdout}\n{run.stderr}")
    data = json.loads(lines[0].removeprefix(MARKER))
    if data["status_errors"] or data["socket_errors"] or not data["requests"]:
        raise SystemExit(f"wrk saw errors or no requests on port {port}:\n{run.stdout}")
    rps = data["requests"] / (data["duration_us"] / 1e6)
    return Result(data["p50"] / 1000, data["p90"] / 1000, data["p99"] / 1000, rps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="turns of every route")
    parser.add_argument("--connections", type=int, nargs="+", default=[1], metavar="N")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of unrecorded wrk")
    parser.add_argument(
        "--compare", type=Path, metavar="DIR", help="also run the service of this checkout"
    )
    parser.add_argument(
        "--metrics", action="store_true", help="also run this service with metrics on"
    )
    args = parser.parse_args()

    body = orjson.dumps(realistic_order_sign())
    servers: dict[str, Server] = {}
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "body.json").write_bytes(body)
        script = Path(tmp) / "post.lua"
        script.write_text(LUA % (json.dumps(str(Path(tmp) / "body.json")), MARKER))
        env = dict(
            os.environ,
            OPIOID_CDS_DATABASE_URL=f"sqlite+aiosqlite:///{tmp}/bench.sqlite3",
            OPIOID_CDS_LOG_LEVEL="WARNING",
        )
        try:
            migrate(env)
            service = "app.main:create_app"
            servers["order-sign"] = start_server(service, free_port(), env, ROOT, sys.executable)
            if args.compare is not None:
                root = args.compare.resolve()
                python = str(root / ".venv" / "bin" / "python")
                compare_env = dict(
                    env,
                    OPIOID_CDS_DATABASE_URL=f"sqlite+aiosqlite:///{tmp}/compare.sqlite3",
                    PYTHONPATH=str(root),
                )
                migrate(compare_env, root, python)
                servers["compare"] = start_server(service, free_port(), compare_env, root, python)
            if args.metrics:
                metrics_env = dict(
                    env,
                    OPIOID_CDS_DATABASE_URL=f"sqlite+aiosqlite:///{tmp}/metrics.sqlite3",
                    OPIOID_CDS_METRICS="true",
                )
                migrate(metrics_env)
                servers["metrics"] = start_server(
                    service, free_port(), metrics_env, ROOT, sys.executable
                )
            baseline = "bench.baseline_app:create_baseline_app"
            servers["parse-only"] = start_server(baseline, free_port(), env, ROOT, sys.executable)
            cards = {name: check_server(name, server, body) for name, server in servers.items()}
            for server in servers.values():
                run_wrk(server.port, script, max(args.connections), args.warmup)
            # Other jobs on this shared VM move every figure; the load average tells of them.
            started, load_before = time.strftime("%Y-%m-%d %H:%M:%S %Z"), os.getloadavg()[0]
            results: list[tuple[int, str, int, Result]] = []
            for round_ in range(1, args.rounds + 1):
                # Every other round in reverse, so no route always runs right after another.
                order = list(servers) if round_ % 2 else list(reversed(servers))
                for connections in args.connections:
                    for name in order:
                        result = run_wrk(servers[name].port, script, connections, args.duration)
                        results.append((round_, name, connections, result))
            load_after = os.getloadavg()[0]
        finally:
            for server in servers.values():
                server.process.terminate()
            for server in servers.values():
                try:
                    server.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    server.process.kill()

    print(f"started {started}; load average {load_before:.2f} before, {load_after:.2f} after")
    print(f"body {len(body) / 1024:.1f} KiB; cards {cards}")
    print(f"{args.rounds} rounds of {args.duration:g} s per route and setting, wrk -t1\n")
    _table(results)


def _table(results: list[tuple[int, str, int, Result]]) -> None:
    print(f"{'round':<6}{'route':<12}{'conns':>5}{'p50':>9}{'p90':>9}{'p99':>9}{'req/s':>8}  ratio")
    floor = {(r, c): res.p50_ms for r, name, c, res in results if name == "parse-only"}
    ratios: dict[tuple[str, int], list[float]] = {}
    for round_, name, conns, res in sorted(results, key=lambda row: (row[2], row[0])):
        ratio = res.p50_ms / floor[round_, conns]
        ratios.setdefault((name, conns), []).append(ratio)
        shown = "" if name == "parse-only" else f"{ratio:.2f}x"
        print(
            f"{round_:<6}{name:<12}{conns:>5}{res.p50_ms:>7.2f}ms{res.p90_ms:>7.2f}ms"
            f"{res.p99_ms:>7.2f}ms{res.rps:>8.0f}  {shown}"
        )
    print("\nmedian over rounds (ratio: p50 over parse-only's p50 in the same round):")
    for (name, conns), values in ratios.items():
        rows = [res for _, n, c, res in results if (n, c) == (name, conns)]
        p50 = statistics.median(r.p50_ms for r in rows)
        p99 = statistics.median(r.p99_ms for r in rows)
        rps = statistics.median(r.rps for r in rows)
        line = f"  {name:<12}c={conns:<3} p50 {p50:.2f} ms  p99 {p99:.2f} ms  {rps:.0f} req/s"
        if name != "parse-only":
            median = statistics.median(values)
            line += f"  ratio {median:.2f}x ({min(values):.2f}-{max(values):.2f})"
        print(line)
    # The service against the other checkout, round by round: on a shared VM whose speed
    # drifts within minutes, the ratio of two routes measured seconds apart holds better than
    # either median.
    by_round = {(r, name, c): res.p50_ms for r, name, c, res in results}
    for (round_, name, conns), value in sorted(by_round.items()):
        if name == "order-sign" and (round_, "compare", conns) in by_round:
            ratios.setdefault(("against compare", conns), []).append(
                value / by_round[round_, "compare", conns]
            )
    for (name, conns), values in ratios.items():
        if name == "against compare":
            print(
                f"  order-sign over compare, c={conns}: {statistics.median(values):.2f}x "
                f"(rounds {', '.join(f'{v:.2f}' for v in values)})"
            )


if __name__ == "__main__":
    main()
