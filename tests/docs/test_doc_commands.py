"""Every shell command in the README and docs/ is run by a test, so none of them can rot.

Each ```bash or ```console block carries a marker in an HTML comment just before it:

    <!-- tested: status=200 contains="\\"code\\":\\"short-acting-opioid\\"" -->
    <!-- tested-by: tests/rules/rulesets/test_extending_docs.py::test_the_use_it_commands -->
    <!-- not-run: builds a container image; needs a Docker daemon -->

`tested` blocks run here, with bash, against a real server:
- `status=N`: the first HTTP status line in the output (`curl -si`) is N;
- `exit=N`: the shell's exit code is N (default 0);
- `contains="text"` (repeatable): the output contains the text.
`http://localhost:8000` in a block is replaced by the test server's URL and `.venv/bin/` by the
running virtual environment's. Blocks run from a directory that holds the fixtures
(`fhir_fixtures/`, dates moved to today, as the playground and `opioid-cds fixtures` do) and a
small Bulk Data export (`export/`); in a ```console block the lines after `$ ` are the
commands and the rest is output (not compared).

`tested-by` names the tests that run the block some other way (a server that must keep
running, a rule module that must be registered first): each must exist and read its command
from the document or spell it out. `not-run` says why a block cannot run here; there are few,
and each is listed in the test output.
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

from app.settings import Settings
from fhir_fixtures.population import write_population
from rules.fixtures import list_fixtures, load_fixture
from tests.app.live_server import EXAMPLE_TRUST_FILE, LiveService, live_service

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
DOC_BASE_URL = "http://localhost:8000"
SHELL_BLOCK = re.compile(
    r"^(?P<indent> *)```(?P<language>bash|console|sh|shell)\n(?P<code>.*?)^(?P=indent)```",
    re.MULTILINE | re.DOTALL,
)
ANY_BLOCK = re.compile(
    r"^ *```(?P<language>[\w-]*)[^\n]*\n(?P<code>.*?)^ *```", re.MULTILINE | re.DOTALL
)
MARKER = re.compile(
    r"<!--\s*(?P<kind>tested|tested-by|not-run):(?P<spec>(?:(?!-->).)*)-->\s*\n *$", re.DOTALL
)
COMMAND_WORDS = ("curl ", "opioid-cds", "make ", "bench/", "docker ", "uvicorn ")
STATUS_LINE = re.compile(r"^HTTP/[\d.]+ (\d{3})", re.MULTILINE)


@dataclass(frozen=True)
class Example:
    doc: str
    line: int
    code: str
    status: int | None = None
    exit_code: int = 0
    contains: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}"


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
            raise ValueError(f"line {line}: unknown marker field {key!r}")
    return status, exit_code, contains


@dataclass(frozen=True)
class Block:
    doc: str
    line: int
    language: str
    code: str
    kind: str | None  # the marker: tested, tested-by, not-run, or None
    spec: str

    @property
    def script(self) -> str:
        """What bash runs: a ```console block's `$ ` lines (with their continuations)."""
        if self.language != "console":
            return self.code
        commands, continued = [], False
        for line in self.code.splitlines():
            if line.startswith("$ ") or continued:
                commands.append(line.removeprefix("$ "))
                continued = line.endswith("\\")
        return "\n".join(commands) + "\n"


def shell_blocks() -> list[Block]:
    blocks = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for match in SHELL_BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            marker = MARKER.search(text[: match.start()][-2000:])
            code = "".join(
                part.removeprefix(match["indent"])
                for part in match["code"].splitlines(keepends=True)
            )
            blocks.append(
                Block(
                    doc=str(path.relative_to(ROOT)),
                    line=line,
                    language=match["language"],
                    code=code,
                    kind=marker["kind"] if marker else None,
                    spec=marker["spec"].strip() if marker else "",
                )
            )
    return blocks


def documented_examples() -> list[Example]:
    examples = []
    for block in shell_blocks():
        if block.kind != "tested":
            continue
        status, exit_code, contains = _parse_spec(block.spec, block.line)
        examples.append(Example(block.doc, block.line, block.script, status, exit_code, contains))
    return examples


EXAMPLES = documented_examples()


def test_every_shell_block_with_a_command_is_marked() -> None:
    unmarked = [
        f"{block.doc}:{block.line}"
        for block in shell_blocks()
        if block.kind is None and any(word in block.code for word in COMMAND_WORDS)
    ]
    assert unmarked == []
    # A command in any other kind of code block would escape the test: there is none.
    for path in DOCS:
        for match in ANY_BLOCK.finditer(path.read_text(encoding="utf-8")):
            if match["language"] not in ("bash", "console", "sh", "shell"):
                assert not re.search(r"^\$? ?(curl|opioid-cds|make) ", match["code"], re.M), path
    curl_examples = [example for example in EXAMPLES if "curl " in example.code]
    assert len(curl_examples) >= 10
    assert all(DOC_BASE_URL in example.code for example in curl_examples)


def test_every_tested_by_names_a_test_that_runs_the_block() -> None:
    for block in shell_blocks():
        if block.kind != "tested-by":
            continue
        references = block.spec.split()
        assert references, f"{block.doc}:{block.line}: tested-by names no test"
        sources = []
        for reference in references:
            file, _, test = reference.partition("::")
            source = (ROOT / file).read_text(encoding="utf-8")
            assert not test or f"def {test}(" in source, f"{block.doc}:{block.line}: {reference}"
            sources.append(source)
        together = "\n".join(sources)
        commands = [
            line.split("  #")[0].strip()
            for line in block.script.splitlines()
            if line.strip() and not line.strip().startswith("#")
        ]
        # The test spells the command out, or reads the block from the document itself.
        assert Path(block.doc).name in together or all(c in together for c in commands), (
            f"{block.doc}:{block.line}: {references} neither runs nor reads {commands}"
        )


def test_blocks_not_run_say_why(capsys: pytest.CaptureFixture[str]) -> None:
    not_run = [block for block in shell_blocks() if block.kind == "not-run"]
    for block in not_run:
        assert len(block.spec) > 10, f"{block.doc}:{block.line}: not-run needs a reason"
    with capsys.disabled():
        for block in not_run:
            print(f"\nnot run: {block.doc}:{block.line}: {block.spec}", end="")


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
    """A directory with fhir_fixtures/ and export/ as the examples expect, dates relative to
    the clinical today the commands use (Amsterdam's date, a day ahead of UTC's before
    midnight there)."""
    directory = tmp_path_factory.mktemp("integration-workdir")
    (directory / "fhir_fixtures").mkdir()
    for path in list_fixtures():
        request, _expectation = load_fixture(path)
        (directory / "fhir_fixtures" / path.name).write_text(json.dumps(request), encoding="utf-8")
    today = Settings().clinical_today()
    write_population(directory / "export", patients=1000, as_of=today, files_per_type=1)
    return directory


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.id for example in EXAMPLES])
def test_documented_example(example: Example, service: LiveService, workdir: Path) -> None:
    for tool in ("bash", "curl"):
        if shutil.which(tool) is None:
            pytest.fail(f"the examples of the docs need {tool} (apt-get install {tool})")
    venv_bin = Path(sys.executable).parent
    script = example.code.replace(DOC_BASE_URL, service.base_url).replace(
        ".venv/bin/", f"{venv_bin}/"
    )
    environment = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        # the report command reads the service's database, as docs/reports.md says
        "OPIOID_CDS_DATABASE_URL": f"sqlite+aiosqlite:///{service.database_path}",
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
    where = example.id
    output = result.stdout
    assert result.returncode == example.exit_code, f"{where}: {result.stderr}\n{output}"
    if example.status is not None:
        status = STATUS_LINE.search(output)
        assert status is not None, f"{where}: no HTTP status line in the output:\n{output}"
        assert int(status.group(1)) == example.status, f"{where}:\n{output}"
    said = output + result.stderr  # a command that writes a file says so on stderr
    for text in example.contains:
        assert text in said, f"{where}: {text!r} not in the output:\n{said}"
