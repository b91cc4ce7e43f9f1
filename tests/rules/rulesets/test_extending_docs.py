"""docs/extending-rules.md is executable: its worked example registers a rule, loads a new
region's rule set, and the cards come out as the document says. docs/rules.md is current."""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import sys
import types
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.cli import main
from app.db import migrate
from app.main import create_app
from app.rule_examples import example_cards
from app.settings import Settings
from rules.catalogue import load_catalogue
from rules.engine import Evaluator
from rules.fixtures import FIXTURES_DIR, load_fixture
from rules.registry import RULE_REGISTRY
from rules.rulesets import DEFAULT_RULESET_PATH, RuleSet, load_ruleset
from rules.rulesets.docs import render_rules_markdown
from tests.rules.conftest import card_for, facts, order, patient, run

ROOT = Path(__file__).resolve().parents[3]
EXTENDING = ROOT / "docs" / "extending-rules.md"
EXAMPLE_MODULE = "rules.checks.adolescent"


def _example_blocks() -> dict[str, str]:
    text = EXTENDING.read_text(encoding="utf-8")
    blocks = re.findall(r"```(\w+) extending-example\n(.*?)```", text, flags=re.DOTALL)
    return dict(blocks)


@pytest.fixture
def example_rule() -> Iterator[None]:
    module = types.ModuleType(EXAMPLE_MODULE)
    sys.modules[EXAMPLE_MODULE] = module
    exec(compile(_example_blocks()["python"], str(EXTENDING), "exec"), module.__dict__)
    try:
        yield
    finally:
        RULE_REGISTRY.pop("adolescent-patient", None)
        sys.modules.pop(EXAMPLE_MODULE, None)


def test_the_worked_example_of_extending_rules_md_runs(example_rule: None, tmp_path: Path) -> None:
    rulesets = tmp_path / "rulesets"
    rulesets.mkdir()
    directory = DEFAULT_RULESET_PATH.parent.parent / "directory"
    (tmp_path / "directory").symlink_to(directory)
    path = rulesets / "voorbeeld.yaml"
    path.write_text(_example_blocks()["yaml"], encoding="utf-8")

    voorbeeld = load_ruleset(path)
    assert set(voorbeeld.rules) == {"gp-duration-limit", "adolescent-patient"}
    evaluator = Evaluator(voorbeeld, load_catalogue())

    teenager = run(evaluator, facts(patient_facts=patient(age=15)))
    card = card_for(teenager, "adolescent-patient")
    assert card.summary == "Opioïd bij een patiënt van 15 jaar: extra voorzichtig"
    assert card.indicator == "info"

    six_days = run(evaluator, facts(orders=[order(total_covered_days=6)]))
    assert six_days.fired_rule_ids == ["gp-duration-limit"]
    assert "maximaal 5 dagen" in card_for(six_days, "gp-duration-limit").summary
    # the Eemland rules that this region did not list do not run
    assert "short-acting-opioid" not in six_days.fired_rule_ids


def test_docs_rules_md_is_generated_from_the_current_rule_set(ruleset: RuleSet) -> None:
    current = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    examples = asyncio.run(example_cards())
    assert current == render_rules_markdown(ruleset, examples), (
        "docs/rules.md is stale: run `opioid-cds rules docs`"
    )


def test_docs_rules_md_names_each_rule_its_severity_parameters_and_handbook_section(
    ruleset: RuleSet,
) -> None:
    text = render_rules_markdown(ruleset)
    assert text.index("## Sources") < text.index("## Rules")
    assert "*Handleiding: Chronisch gebruik Opioïden (Huisartsen Eemland, 2025)*" in text
    for rule_id, spec in ruleset.rules.items():
        assert f"`{rule_id}`" in text
        assert spec.source_lines.split(";")[0].split(",", 1)[-1] in text
    assert "`max_days` = `7`" in text
    assert (
        "- **Source:** *Handleiding: Chronisch gebruik Opioïden (Huisartsen Eemland, 2025)*,"
        " fase 1, stap 3, «Werkafspraken bij keuze opioïden»: «ALLEEN langwerkend opioïden"
        " 2-3 maal daags"
    ) in text
    assert "| 01999002 | Huisartsenpraktijk De Voorbeeldhof (voorbeeld) |" in text


def _use_it_commands() -> list[str]:
    """The `$ ` lines of the «Use it» block of docs/extending-rules.md."""
    text = EXTENDING.read_text(encoding="utf-8")
    block = re.search(r"### 3\. Use it\n.*?```console\n(.*?)```", text, flags=re.DOTALL)
    assert block is not None
    return [line[2:] for line in block.group(1).splitlines() if line.startswith("$ ")]


def test_the_use_it_commands_run_as_written(
    example_rule: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each command of «Use it», from a checkout holding the new files: `opioid-cds` through
    its entry point, `make serve` as the service it starts (the rule module is registered in
    this process, as the new module would be in a checkout)."""
    (tmp_path / "rules" / "rulesets").mkdir(parents=True)
    (tmp_path / "rules" / "directory").symlink_to(DEFAULT_RULESET_PATH.parent.parent / "directory")
    (tmp_path / "rules" / "rulesets" / "voorbeeld.yaml").write_text(_example_blocks()["yaml"])
    request, _ = load_fixture(
        FIXTURES_DIR / "short-acting-oxycodon-tablet.json", today=date.today()
    )
    request["prefetch"]["patient"]["birthDate"] = f"{date.today().year - 15}-01-01"
    (tmp_path / "request.json").write_text(json.dumps(request))
    monkeypatch.chdir(tmp_path)

    commands = _use_it_commands()
    assert len(commands) == 3
    for command in commands:
        words = shlex.split(command)
        while "=" in words[0]:
            name, _, value = words.pop(0).partition("=")
            monkeypatch.setenv(name, value)
        if words[0] == "opioid-cds":
            capsys.readouterr()
            assert main(words[1:]) == 0, capsys.readouterr().err
            said = capsys.readouterr()
            if words[1] == "evaluate":
                assert "Opioïd bij een patiënt van 15 jaar" in said.out
        else:
            assert words == ["make", "serve"]
            settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}")
            migrate(settings.database_url)
            with TestClient(create_app(settings)) as client:
                answer = client.post("/cds-services/opioid-order-select", json=request)
            assert answer.status_code == 200
            assert "adolescent-patient" in answer.text
