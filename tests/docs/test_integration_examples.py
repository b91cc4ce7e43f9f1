"""The shell examples of docs/integration.md, run against a real server so they cannot rot.

A ```bash block preceded by a marker comment is an example the test runs:

    <!-- tested: status=200 contains="\\"code\\":\\"short-acting-opioid\\"" -->

- `status=N`: the first HTTP status line in the output (`curl -si`) is N;
- `exit=N`: the shell's exit code is N (default 0);
- `contains="text"` (repeatable): the output contains the text.

`http://localhost:8000` in a block is replaced by the test server's URL. Blocks run with
bash from a directory that holds the fixtures (`fhir_fixtures/`, dates moved to today, as the
playground and `opioid-cds fixtures` do) with the virtual environment's scripts on PATH.
Every block that calls `curl` or `opioid-cds` must be marked; that is checked too.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from rules.fixtures import list_fixtures, load_fixture
from tests.app.live_server import EXAMPLE_TRUST_FILE, LiveService, live_service

DOC = Path(__file__).resolve().parents[2] / "docs" / "integration.md"
DOC_BASE_URL = "http://localhost:8000"
BASH_BLOCK = re.compile(r"^```bash\n(?P<code>.*?)^```", re.MULTILINE | re.DOTALL)
ANY_BLOCK = re.compile(r"^```(?P<language>[\w-]*)\n(?P<code>.*?)^```", re.MULTILINE | re.DOTALL)
MARKER = re.compile(r"<!--\s*tested:(?P<spec>(?:(?!-->).)*)-->\s*\n$", re.DOTALL)
STATUS_LINE = re.compile(r"^HTTP/[\d.]+ (\d{3})", re.MULTILINE)


@dataclass(frozen=True)
class Example:
    line: int
    code: str
    status: int | None = None
    exit_code: int = 0
    contains: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"line-{self.line}"


def _parse_spec(spec: str, line: int) -> tuple[int | None, int, list[str]]:
    status: int | None = None
    exit_code = 0
    contains: list[str] = []
    for token in shlex.split(spec):
        key, _, value = token.partition("=")
        if key == "status":
            status = int(value)
        elif key == "exit":
            exit_code = int(value)
        elif key == "contains":
            contains.append(value)
        else:
            raise ValueError(f"docs/integration.md:{line}: unknown marker field {key!r}")
    return status, exit_code, contains


def _blocks(text: str) -> Iterator[tuple[int, str, str | None]]:
    """(line, code, marker spec or None) of every ```bash block."""
    for match in BASH_BLOCK.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        marker = MARKER.search(text[: match.start()][-2000:])
        yield line, match.group("code"), marker.group("spec") if marker else None


def documented_examples() -> list[Example]:
    examples = []
    for line, code, spec in _blocks(DOC.read_text(encoding="utf-8")):
        if spec is None:
            continue
        status, exit_code, contains = _parse_spec(spec, line)
        examples.append(Example(line, code, status, exit_code, contains))
    return examples


EXAMPLES = documented_examples()


def test_every_shell_example_that_calls_the_service_is_tested() -> None:
    text = DOC.read_text(encoding="utf-8")
    untested = [
        f"docs/integration.md:{line}"
        for line, code, spec in _blocks(text)
        if spec is None and ("curl" in code or "opioid-cds" in code)
    ]
    assert untested == []
    # A curl example in any other kind of code block would escape the test: there is none.
    other_blocks = [
        match.group("code")
        for match in ANY_BLOCK.finditer(text)
        if match.group("language") != "bash"
    ]
    assert not [code for code in other_blocks if "curl " in code]
    curl_examples = [example for example in EXAMPLES if "curl " in example.code]
    assert len(curl_examples) >= 10
    assert all(DOC_BASE_URL in example.code for example in curl_examples)


def test_every_example_checks_something() -> None:
    for example in EXAMPLES:
        assert example.contains or example.status is not None, example.id


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    directory = tmp_path_factory.mktemp("integration-docs")
    trust_file = directory / "trusted-clients.json"
    trust_file.write_text(json.dumps(EXAMPLE_TRUST_FILE), encoding="utf-8")
    with live_service(directory, trusted_clients=trust_file) as running:
        yield running


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with fhir_fixtures/ as the examples expect, dates relative to today."""
    directory = tmp_path_factory.mktemp("integration-workdir")
    (directory / "fhir_fixtures").mkdir()
    for path in list_fixtures():
        request, _expectation = load_fixture(path)
        (directory / "fhir_fixtures" / path.name).write_text(json.dumps(request), encoding="utf-8")
    return directory


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.id for example in EXAMPLES])
def test_documented_example(example: Example, service: LiveService, workdir: Path) -> None:
    for tool in ("bash", "curl"):
        if shutil.which(tool) is None:
            pytest.fail(f"the examples of docs/integration.md need {tool} (apt-get install {tool})")
    script = example.code.replace(DOC_BASE_URL, service.base_url)
    environment = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    result = subprocess.run(
        ["bash", "-o", "pipefail", "-c", script],
        cwd=workdir,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    where = f"docs/integration.md:{example.line}"
    output = result.stdout
    assert result.returncode == example.exit_code, f"{where}: {result.stderr}\n{output}"
    if example.status is not None:
        status = STATUS_LINE.search(output)
        assert status is not None, f"{where}: no HTTP status line in the output:\n{output}"
        assert int(status.group(1)) == example.status, f"{where}:\n{output}"
    for text in example.contains:
        assert text in output, f"{where}: {text!r} not in the output:\n{output}"
