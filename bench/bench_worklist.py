"""Benchmark: `opioid-cds chronic-users` over a generated population (100,000 patients).

Run: ``.venv/bin/python bench/bench_worklist.py [--patients N] [--workers N] [--rounds N]``

The export is written once by `fhir_fixtures.population` (about 10 resources per patient:
most without an opioid, some short courses, chronic users, OAT, palliative care) into
`var/bench-worklist-<N>/` and reused. Each round runs the command as a user would, in a new
process, and prints the wall time, patients per second and the peak memory: the sum of the
resident set sizes (RSS) of the command and all its worker processes, sampled every 20 ms
(shared pages count once per process, so the figure errs high).
Target (issue #15): the whole population in under 60 s within 1 GiB on the 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

from fhir_fixtures.population import write_population

AS_OF = date(2026, 11, 1)
ROOT = Path(__file__).resolve().parent.parent


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def _tree(pid: int) -> list[int]:
    """The process and its descendants, from /proc/<pid>/task/*/children."""
    found = [pid]
    for current in found:
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except FileNotFoundError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{current}/task/{task}/children") as children:
                    found.extend(int(child) for child in children.read().split())
            except FileNotFoundError:
                continue
    return found


class PeakRss:
    """Samples the RSS of a process tree in a thread until stopped."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_kib = 0
        self.peak_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            pids = _tree(self.pid)
            total = sum(_rss_kib(pid) for pid in pids)
            if total > self.peak_kib:
                self.peak_kib, self.peak_processes = total, len(pids)
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _children_cpu() -> float:
    """CPU seconds of the waited-for children, theirs included: the command and its workers
    (the figure the machine's other load does not change much)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _export(patients: int) -> Path:
    directory = ROOT / "var" / f"bench-worklist-{patients}"
    done = directory / ".complete"
    if not done.exists():
        started = time.perf_counter()
        population = write_population(directory, patients=patients, as_of=AS_OF, files_per_type=2)
        done.write_text(str(population.resources))
        print(
            f"generated {patients} patients, {population.resources} resources in "
            f"{time.perf_counter() - started:.1f} s"
        )
    size = sum(path.stat().st_size for path in directory.glob("*.ndjson"))
    print(f"export: {directory} ({size / 2**20:.0f} MiB, {done.read_text()} resources)")
    return directory


def _round(directory: Path, patients: int, workers: int | None) -> None:
    command = [
        str(Path(sys.executable).parent / "opioid-cds"),
        "chronic-users",
        str(directory),
        "--as-of",
        AS_OF.isoformat(),
        "-o",
        os.devnull,
    ]
    if workers:
        command += ["--workers", str(workers)]
    cpu_before = _children_cpu()
    started = time.perf_counter()
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    sampler = PeakRss(process.pid)
    _, err = process.communicate()
    wall = time.perf_counter() - started
    cpu = _children_cpu() - cpu_before
    sampler.stop()
    if process.returncode != 0:
        sys.exit(f"the command failed ({process.returncode}): {err}")
    print(err.strip().splitlines()[0])
    print(
        f"wall {wall:.1f} s, {patients / wall:,.0f} patients/s, peak RSS "
        f"{sampler.peak_kib / 1024:.0f} MiB over {sampler.peak_processes} processes, "
        f"CPU {cpu:.1f} s (user + system, all processes), "
        f"load average {os.getloadavg()[0]:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=None, help="default: every core")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    directory = _export(args.patients)
    print(f"cores: {len(os.sched_getaffinity(0))}, python {sys.version.split()[0]}")
    for _ in range(args.rounds):
        _round(directory, args.patients, args.workers)


if __name__ == "__main__":
    main()
