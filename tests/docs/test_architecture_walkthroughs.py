"""docs/architecture.md's walk-throughs, tried: the code blocks marked `architecture-…` are the
change, the commands are run as the document gives them, and the files touched are counted."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from app.cli import main
from rules.fixtures import FIXTURES_DIR, load_fixture
from rules.registry import RULE_REGISTRY
from rules.rulesets import DEFAULT_RULESET_PATH

ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = ROOT / "docs" / "architecture.md"
RULES_DIR = DEFAULT_RULESET_PATH.parent.parent


def _blocks() -> dict[str, str]:
    """The code blocks marked `architecture-<name>`, keyed "<language> architecture-<name>",
    with the indentation of their list item taken off."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    pattern = r"^( *)```(\w+ architecture-[\w-]+)\n(.*?)^\1```"
    return {
        key: "".join(line.removeprefix(indent) for line in body.splitlines(keepends=True))
        for indent, key, body in re.findall(pattern, text, flags=re.DOTALL | re.MULTILINE)
    }


def _request(tmp_path: Path, fixture: str, **edits: Any) -> Path:
    """A fixture as it would be posted today (its dates moved), written where the CLI reads it."""
    request, _ = load_fixture(FIXTURES_DIR / f"{fixture}.json", today=date.today())
    for key, value in edits.items():
        request[key] = value
    path = tmp_path / "fhir_fixtures" / f"{fixture}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(request), encoding="utf-8")
    return path


def _cards(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, str]:
    capsys.readouterr()
    assert main(["evaluate", "--format", "json", *argv]) == 0
    body = json.loads(capsys.readouterr().out)
    return {card["source"]["topic"]["code"]: card["summary"] for card in body["cards"]}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("OPIOID_CDS_RULESET_PATH", "OPIOID_CDS_PRACTICE_OVERLAYS_PATH"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def adolescent_rule(tmp_path: Path) -> Iterator[Path]:
    """Step 1: the rule module, registered as `load_builtin_rules` would register it."""
    module_path = tmp_path / "adolescent.py"
    module_path.write_text(_blocks()["python architecture-rule"], encoding="utf-8")
    spec = importlib.util.spec_from_file_location("walkthrough_adolescent", module_path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module_path
    finally:
        RULE_REGISTRY.pop("adolescent-patient", None)
        sys.modules.pop(spec.name, None)


def test_add_a_rule(
    adolescent_rule: Path,
    tmp_path: Path,
    clean_env: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert "needs=" in adolescent_rule.read_text(encoding="utf-8")
    yaml_block = _blocks()["yaml architecture-rule"]
    # Step 2: the entry under `rules:` (the last section of the rule set).
    rulesets = tmp_path / "rulesets"
    rulesets.mkdir()
    (tmp_path / "directory").symlink_to(RULES_DIR / "directory")
    ruleset = rulesets / "eemland.yaml"
    ruleset.write_text(
        DEFAULT_RULESET_PATH.read_text(encoding="utf-8") + "\n" + yaml_block, encoding="utf-8"
    )
    assert main(["rules", "validate", str(ruleset)]) == 0
    clean_env.setenv("OPIOID_CDS_RULESET_PATH", str(ruleset))

    # Step 3: the fixture, a copy of the nearest one with a patient of 15.
    request = load_fixture(FIXTURES_DIR / "short-acting-oxycodon-tablet.json")[0]
    request["prefetch"]["patient"]["birthDate"] = f"{date.today().year - 15}-01-01"
    teenager = tmp_path / "adolescent-oxycodon.json"
    teenager.write_text(json.dumps(request), encoding="utf-8")
    cards = _cards(capsys, str(teenager))
    assert cards["adolescent-patient"] == "Opioïd bij een patiënt van 15 jaar: extra voorzichtig"
    assert "short-acting-opioid" in cards

    adult = _request(tmp_path, "short-acting-oxycodon-tablet")
    assert "adolescent-patient" not in _cards(capsys, str(adult))

    # Without the patient the rule cannot be judged: it does not run (`needs`).
    del request["prefetch"]["patient"]
    teenager.write_text(json.dumps(request), encoding="utf-8")
    assert "adolescent-patient" not in _cards(capsys, str(teenager))


def test_add_a_region(
    tmp_path: Path, clean_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    commands = [
        line.removeprefix("$ ").split("   #")[0]
        for line in _blocks()["console architecture-region"].splitlines()
        if line.startswith("$ ")
    ]
    (tmp_path / "rules").symlink_to(RULES_DIR)
    _request(tmp_path, "chronic-use-oxycodon")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("OPIOID_CDS_RULESET_PATH", None)
    env.pop("OPIOID_CDS_PRACTICE_OVERLAYS_PATH", None)

    def run(command: str) -> str:
        done = subprocess.run(
            ["bash", "-c", f"set -e; {command}"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, (command, done.stdout, done.stderr)
        return done.stdout

    *setup, validate, evaluate = commands
    for command in setup:
        run(command)
    region = tmp_path / "voorbeeld" / "rulesets" / "voorbeeld.yaml"
    assert "valid" in run(validate)
    assert "chronic-use" in run(evaluate)  # a copy of Eemland judges as Eemland does

    # The edit: a region of its own, with another chronic-use threshold.
    text = region.read_text(encoding="utf-8").replace("id: eemland", "id: voorbeeld", 1)
    chronic_use = text.index("\n  chronic-use:\n")
    threshold = text.index("{threshold_days: 28}", chronic_use)
    text = text[:threshold] + "{threshold_days: 120}" + text[threshold + 20 :]
    region.write_text(text, encoding="utf-8")
    assert "valid" in run(validate)
    assert "chronic-use" not in run(evaluate)  # 89 days with this order, threshold 120
    written = {
        str(path.relative_to(tmp_path)) for path in tmp_path.joinpath("voorbeeld").rglob("*")
    }
    assert {name for name in written if name.endswith(".yaml")} == {
        "voorbeeld/directory/links.yaml",
        "voorbeeld/directory/referrals.yaml",
        "voorbeeld/rulesets/voorbeeld.yaml",
    }

    # A practice overlay: a separate file, chosen with its own variable.
    overlays = tmp_path / "voorbeeld-practices.yaml"
    overlays.write_text(
        'overlays:\n  "01999010":\n    name: "Huisartsenpraktijk De Eemhof"\n    kind: practice\n'
        "    rules:\n      gp-duration-limit:\n        parameters: {max_days: 5}\n",
        encoding="utf-8",
    )
    clean_env.setenv("OPIOID_CDS_RULESET_PATH", str(region))
    gp = _request(tmp_path, "gp-duration-14-days")
    assert "maximaal 7 dagen" in _cards(capsys, str(gp))["gp-duration-limit"]
    clean_env.setenv("OPIOID_CDS_PRACTICE_OVERLAYS_PATH", str(overlays))
    assert "maximaal 5 dagen" in _cards(capsys, str(gp))["gp-duration-limit"]


def test_add_a_hook(tmp_path: Path) -> None:
    """The three edits on a copy of the packages, then `opioid-cds evaluate` in a new process."""
    blocks = _blocks()
    for package in ("app", "rules", "cds_hooks"):
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )

    def edit(relative: str, *replacements: tuple[str, str]) -> None:
        path = tmp_path / relative
        text = path.read_text(encoding="utf-8")
        for old, new in replacements:
            assert text.count(old) == 1, (relative, old)
            text = text.replace(old, new)
        path.write_text(text, encoding="utf-8")

    context_model = blocks["python architecture-hook-context"]
    hook_spec = blocks["python architecture-hook-spec"]
    edit(
        "cds_hooks/contexts.py",
        ("\n\nHOOK_CONTEXTS", f"\n\n{context_model}\n\nHOOK_CONTEXTS"),
        (
            "(OrderSelectContext, OrderSignContext, PatientViewContext)",
            "(OrderSelectContext, OrderSignContext, PatientViewContext, EncounterStartContext)",
        ),
    )
    edit(
        "rules/hooks.py",
        ("import (\n    HookContext,", "import (\n    EncounterStartContext,\n    HookContext,"),
        ("\nHOOK_SPECS: Final", f"\n{hook_spec}\nHOOK_SPECS: Final"),
        (
            "(ORDER_SELECT, ORDER_SIGN, PATIENT_VIEW)",
            "(ORDER_SELECT, ORDER_SIGN, PATIENT_VIEW, ENCOUNTER_START)",
        ),
    )
    edit(
        "rules/rulesets/eemland.yaml",
        (
            "hooks: [patient-view]\n    exclusions: [palliative-or-cancer]",
            "hooks: [patient-view, encounter-start]\n    exclusions: [palliative-or-cancer]",
        ),
    )
    changed = [
        str(path.relative_to(tmp_path))
        for path in sorted(tmp_path.rglob("*"))
        if path.is_file() and path.read_bytes() != (ROOT / path.relative_to(tmp_path)).read_bytes()
    ]
    assert changed == ["cds_hooks/contexts.py", "rules/hooks.py", "rules/rulesets/eemland.yaml"]

    request, _ = load_fixture(FIXTURES_DIR / "patient-view-chronic-user.json", today=date.today())
    request["hook"] = "encounter-start"
    request["context"]["encounterId"] = "encounter-1"
    request_path = tmp_path / "encounter-start.json"
    request_path.write_text(json.dumps(request), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPIOID_CDS_")}
    env["PYTHONPATH"] = str(tmp_path)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, app.cli; sys.exit(app.cli.main(sys.argv[1:]))",
            "evaluate",
            "--format",
            "json",
            str(request_path),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    fired = [card["source"]["topic"]["code"] for card in body["cards"]]
    assert fired == ["chronic-user-review"]
