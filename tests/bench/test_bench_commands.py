"""The benchmark commands of docs/performance.md, run as written but shortened, so none of
them rots: every option that sets how long or how much (`--duration`, `--rounds`,
`--requests`, `--patients`, ...) is cut to a token amount, and the comparison with another
checkout (`--compare DIR`, made by `git worktree add` and a build of its own) is left out.
What a full run prints is recorded in the document; this test only shows each command still
runs and prints its figures."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PERFORMANCE = ROOT / "docs" / "performance.md"
SHORTER = {"--duration": "1", "--rounds": "1", "--requests": "40", "--patients": "300",
           "--concurrency": "2", "--replays": "5", "--warmup": "0.5", "--checks": "30",
           "--calls": "2"}  # fmt: skip
LEFT_OUT = {"--compare"}
TOOLS = {"bench/bench_wrk.py": "wrk", "bench/instructions.py": "valgrind"}
# Where the document leaves an amount at its default, the test still sets a token one.
DEFAULT_AMOUNTS = {
    "bench/feedback_load.py": ["--requests", "40", "--replays", "5"],
    "bench/bench_worklist.py": ["--patients", "300"],
}


def _bench_commands() -> list[list[str]]:
    text = PERFORMANCE.read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"^```(?:bash|sh)\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if len(words) > 1 and words[1].startswith("bench/"):
                commands.append(words)
    return commands


def _shortened(words: list[str]) -> list[str]:
    shortened, index = [], 0
    while index < len(words):
        word = words[index]
        if word in LEFT_OUT:
            index += 2
            continue
        shortened.append(word)
        if word in SHORTER:
            shortened.append(SHORTER[word])
            index += 1
        index += 1
    for option, amount in zip(*[iter(DEFAULT_AMOUNTS.get(words[1], []))] * 2, strict=True):
        if option not in shortened:
            shortened += [option, amount]
    return shortened


COMMANDS = _bench_commands()


def test_the_document_has_its_benchmarks() -> None:
    scripts = {words[1] for words in COMMANDS}
    assert {"bench/bench_wrk.py", "bench/engine_bench.py", "bench/feedback_load.py"} <= scripts


@pytest.mark.parametrize("words", COMMANDS, ids=[" ".join(words[1:]) for words in COMMANDS])
def test_a_benchmark_of_performance_md_runs(words: list[str], tmp_path: Path) -> None:
    tool = TOOLS.get(words[1])
    if tool is not None and shutil.which(tool) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{words[1]} needs {tool} (apt-get install {tool})")
        pytest.skip(f"needs {tool} (apt-get install {tool})")
    command = [sys.executable, *_shortened(words)[1:]]
    result = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"
    assert re.search(r"\d+\.\d+", result.stdout), f"no figure printed:\n{result.stdout}"
