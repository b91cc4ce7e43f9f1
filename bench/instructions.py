"""Instructions per call of the realistic `order-sign` request, counted by valgrind.

    .venv/bin/python bench/instructions.py [--calls 100] [--compare DIR ...] [--functions RE]

Wall-clock figures on this shared VM move by up to 2x within minutes; instruction counts do
not. For each checkout (this one, and each `--compare DIR` with its own `.venv`, built there)
the script migrates a throw-away SQLite database and runs the request through the whole ASGI
app (middleware, route, pipeline, audit queue) in a child process under callgrind: start-up
and 50 warm-up calls, then `--calls` counted calls and the audit writer storing them. The
child marks where counting starts and ends by calling two C functions of CPython that nothing
else calls on this path (`_ZERO_AT`, `_DUMP_AT`), so callgrind counts only the calls, and the
figure is what the event loop's thread ran (the audit writer's SQLite thread, off the request
path, is left out).
`--functions RE` also lists, per call, the inclusive instructions of the C functions whose
name matches (the compiled facts builder's functions are `CPyDef_<module>___<name>`). Needs
valgrind (`apt-get install valgrind`).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
PATH = "/cds-services/opioid-order-sign"
WARMUP_CALLS = 50
# CPython's C functions behind gc.get_freeze_count() and sys.getallocatedblocks(): callgrind
# zeroes its counters on entering the first and writes them out on entering the second.
_ZERO_AT = "gc_get_freeze_count"
_DUMP_AT = "sys_getallocatedblocks"
_FUNCTION = re.compile(r"^\s*([\d,]+) \([ \d.]+%\)\s+(?:\S*:)?([^\s']+) \[")


def _child(calls: int, body: bytes) -> None:
    """Runs in the checkout under test (its PYTHONPATH), under valgrind: warm up, then
    `calls` calls."""
    from app.main import create_app

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": PATH,
        "raw_path": PATH.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"host", b"bench")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }

    async def call(app: object) -> None:
        messages: list[dict[str, object]] = []
        received = False

        async def receive() -> dict[str, object]:
            nonlocal received
            if received:  # the app only asks again to see a disconnect
                await asyncio.Event().wait()
            received = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, object]) -> None:
            messages.append(message)

        await app(dict(scope, state={}), receive, send)  # type: ignore[operator]
        if messages[0].get("status") != 200:
            raise SystemExit(f"the request answered {messages[0].get('status')}")

    async def run() -> None:
        app = create_app()
        async with app.router.lifespan_context(app):
            for _ in range(WARMUP_CALLS):
                await call(app)
            for thread in threading.enumerate():
                if thread.name == "ucum-registry":  # start-up work, not the calls'
                    thread.join()
            gc.collect()
            gc.freeze()  # as the service does after its warm-up
            gc.get_freeze_count()  # callgrind starts counting
            for _ in range(calls):
                await call(app)
            await asyncio.sleep(0.3)  # the audit writer stores what the calls queued
            sys.getallocatedblocks()  # callgrind writes out what it counted

    asyncio.run(run())


def _count(root: Path, calls: int, out: Path, env: dict[str, str], body: Path) -> Path:
    """The callgrind file of the counted calls."""
    python = root / ".venv" / "bin" / "python"
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
    command += ["--separate-threads=yes", f"--zero-before={_ZERO_AT}", f"--dump-before={_DUMP_AT}"]
    command += [str(python), str(Path(__file__).resolve()), "--child", str(calls), str(body)]
    subprocess.run(command, cwd=root, env=env, check=True, capture_output=True)
    # The first dump, of the first thread (the event loop's); the exit writes the others.
    counted = out.with_name(out.name + ".1-01")
    if not counted.exists():
        raise SystemExit(f"callgrind found no {_DUMP_AT} to dump at (a stripped libpython?)")
    return counted


def _functions(out: Path) -> dict[str, int]:
    """Inclusive instructions per C function (the outermost call of a recursive one)."""
    listing = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(out)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    found: dict[str, int] = {}
    for line in listing.splitlines():
        match = _FUNCTION.match(line)
        if match:
            name, value = match.group(2), int(match.group(1).replace(",", ""))
            found[name] = max(found.get(name, 0), value)
    return found


def measure(root: Path, calls: int, tmp: Path, pattern: re.Pattern[str] | None) -> None:
    env = dict(
        os.environ,
        OPIOID_CDS_DATABASE_URL=f"sqlite+aiosqlite:///{tmp}/bench.sqlite3",
        OPIOID_CDS_LOG_LEVEL="WARNING",
        PYTHONPATH=str(root),
    )
    python = root / ".venv" / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "app.cli", "migrate"],
        cwd=root,
        env=env,
        check=True,
        capture_output=True,
    )
    # Every checkout gets this checkout's request, as in bench/bench_wrk.py --compare.
    sys.path.insert(0, str(ROOT))
    from bench.realistic_request import realistic_order_sign

    body = tmp / "body.json"
    body.write_bytes(orjson.dumps(realistic_order_sign()))
    functions = _functions(_count(root, calls, tmp / "callgrind.out", env, body))
    # The whole thread's work is under the interpreter's entry point.
    total = functions["Py_BytesMain"]
    print(f"{root}: {total / calls / 1e6:.2f} M instructions per call ({calls} calls)")
    if pattern is not None:
        # A compiled function's CPyPy_ entry point only wraps its CPyDef_ body.
        rows = [
            (value / calls, name)
            for name, value in functions.items()
            if pattern.search(name) and not name.startswith("CPyPy_") and value >= calls * 1000
        ]
        for value, name in sorted(rows, reverse=True)[:30]:
            print(f"  {value / 1e6:8.3f} M  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100, help="calls counted per checkout")
    parser.add_argument("--compare", type=Path, action="append", default=[], metavar="DIR")
    parser.add_argument("--functions", type=re.compile, metavar="RE", help="C functions to list")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        _child(int(args.child[0]), Path(args.child[1]).read_bytes())
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("needs valgrind: apt-get install valgrind")
    for root in [ROOT, *(path.resolve() for path in args.compare)]:
        with tempfile.TemporaryDirectory() as tmp:
            measure(root, max(args.calls, 1), Path(tmp), args.functions)


if __name__ == "__main__":
    main()
