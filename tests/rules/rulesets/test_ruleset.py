"""Rule sets as data: loading, overlays, and errors that name file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rules.registry import RULE_REGISTRY, load_builtin_rules
from rules.rulesets import (
    DEFAULT_RULESET_PATH,
    RuleSet,
    RuleSetError,
    load_ruleset,
    ruleset_json_schema,
    validate_ruleset_file,
)

DIRECTORY = DEFAULT_RULESET_PATH.parent.parent / "directory"


def _copy_ruleset(tmp_path: Path, edit: tuple[str, str] | None = None) -> Path:
    text = DEFAULT_RULESET_PATH.read_text(encoding="utf-8")
    text = text.replace("../directory/", f"{DIRECTORY}/")
    if edit is not None:
        old, new = edit
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / "region.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(needle)


def test_the_eemland_rule_set_has_an_entry_for_every_built_in_rule(ruleset: RuleSet) -> None:
    # Derived from the registry, so a new rule is its module and its rule-set entry, no list here.
    load_builtin_rules()
    built_in = {
        rule_id
        for rule_id, definition in RULE_REGISTRY.items()
        if definition.module.startswith("rules.checks.")
    }
    assert len(built_in) >= 17
    assert set(ruleset.rules) == built_in
    assert ruleset.id == "eemland"
    assert ruleset.defaults.lookback_days == 90
    assert validate_ruleset_file(DEFAULT_RULESET_PATH) == []


def test_every_referral_and_link_names_its_section_of_the_handbook(ruleset: RuleSet) -> None:
    for referral in ruleset.directory.referrals.values():
        assert referral.source.startswith("Handleiding Eemland, ")
    for route in ruleset.directory.postcode_routes:
        assert route.source.startswith("Handleiding Eemland, ")
    for link in ruleset.links.links.values():
        assert link.source.startswith("Handleiding Eemland, ")


def test_a_practice_overlay_changes_only_that_practice(ruleset: RuleSet) -> None:
    assert ruleset.parameters_for("gp-duration-limit", "01999002") == {"max_days": 5}
    assert ruleset.parameters_for("gp-duration-limit", "01999010") == {"max_days": 7}
    assert ruleset.parameters_for("gp-duration-limit", None) == {"max_days": 7}
    # the practice inherits the overrides of its hagro
    assert ruleset.parameters_for("early-refill", "01999002") == {"early_refill_tolerance_days": 3}


def test_a_wrong_value_is_reported_with_file_line_and_field(tmp_path: Path) -> None:
    path = _copy_ruleset(
        tmp_path,
        (
            "    indicator: warning\n    hooks: [order-sign]\n",
            "    indicator: urgent\n    hooks: [order-sign]\n",
        ),
    )
    problems = validate_ruleset_file(path)
    assert len(problems) == 1
    problem = problems[0]
    assert problem.file == str(path)
    assert problem.field == "rules.gp-duration-limit.indicator"
    assert problem.line == _line_of(path, "indicator: urgent")
    assert str(problem).startswith(f"{path}:{problem.line}: rules.gp-duration-limit.indicator: ")


def test_a_parameter_out_of_range_names_the_parameter(tmp_path: Path) -> None:
    path = _copy_ruleset(tmp_path, ("parameters: {max_days: 7}", "parameters: {max_days: 30}"))
    with pytest.raises(RuleSetError) as raised:
        load_ruleset(path)
    [problem] = raised.value.problems
    assert problem.field == "rules.gp-duration-limit.parameters.max_days"
    assert problem.line == _line_of(path, "max_days: 30")
    assert "less than or equal to 7" in problem.message
    assert f"{path}:{problem.line}: rules.gp-duration-limit.parameters.max_days" in str(
        raised.value
    )


def test_unknown_rule_ids_links_and_missing_texts_are_reported(tmp_path: Path) -> None:
    path = _copy_ruleset(tmp_path, ("  pregnancy:\n", "  pregnancy-typo:\n"))
    problems = validate_ruleset_file(path)
    assert [p.field for p in problems] == ["rules.pregnancy-typo"]
    assert "no rule is registered" in problems[0].message
    assert problems[0].message.endswith("did you mean 'pregnancy'?")

    path = _copy_ruleset(tmp_path, ("links: [regional-page]\n", "links: [regional-pagee]\n"))
    [problem] = validate_ruleset_file(path)
    assert problem.field == "rules.short-acting-opioid.links.0"
    assert "regional-pagee" in problem.message


def test_a_summary_placeholder_the_rule_does_not_provide_is_an_error(tmp_path: Path) -> None:
    path = _copy_ruleset(
        tmp_path,
        (
            "Opioïd voor {durations}: huisarts schrijft maximaal {max_days} dagen voor",
            "Opioïd voor {duration}: huisarts schrijft maximaal {max_days} dagen voor",
        ),
    )
    [problem] = validate_ruleset_file(path)
    assert problem.field == "rules.gp-duration-limit.summary"
    assert "duration" in problem.message


def test_yaml_syntax_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("id: x\nrules:\n  a: [unclosed\n  b: 1\n", encoding="utf-8")
    [problem] = validate_ruleset_file(path)
    assert problem.field == "(yaml)"
    assert problem.line >= 3


def test_a_broken_overlay_is_reported_in_the_overlay_file(tmp_path: Path) -> None:
    overlays = tmp_path / "practices.yaml"
    overlays.write_text(
        'overlays:\n  "01234567":\n    name: Praktijk\n    rules:\n'
        "      gp-duration-limit:\n        parameters: {max_days: 14}\n",
        encoding="utf-8",
    )
    problems = validate_ruleset_file(overlays)
    assert [(p.file, p.line, p.field) for p in problems] == [
        (
            str(overlays),
            6,
            "overlays.01234567.rules.gp-duration-limit.parameters.max_days",
        )
    ]


def test_a_missing_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    [problem] = validate_ruleset_file(tmp_path / "nope.yaml")
    assert problem.field == "(file)"


def test_the_json_schema_for_editors_is_current() -> None:
    schema_path = DEFAULT_RULESET_PATH.parent / "ruleset.schema.json"
    assert json.loads(schema_path.read_text(encoding="utf-8")) == ruleset_json_schema(), (
        "regenerate rules/rulesets/ruleset.schema.json from rules.rulesets.ruleset_json_schema()"
    )


def test_the_service_refuses_to_start_with_a_broken_rule_set(tmp_path: Path) -> None:
    from app.main import create_app
    from app.settings import ConfigurationError, Settings

    path = _copy_ruleset(tmp_path, ("parameters: {max_days: 7}", "parameters: {max_days: 30}"))
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'service.sqlite3'}",
        environment="development",
        trusted_clients=None,
        ruleset_path=path,
    )
    # Every start-up problem is one ConfigurationError (app.settings), the rule set's among them.
    with pytest.raises(ConfigurationError) as raised:
        create_app(settings)
    assert f"rule set: {path}:" in str(raised.value)
    assert "rules.gp-duration-limit.parameters.max_days" in str(raised.value)


def test_a_misspelt_rule_id_in_an_overlay_gets_the_nearest_one(tmp_path: Path) -> None:
    overlays = tmp_path / "practices.yaml"
    overlays.write_text(
        'overlays:\n  "01234567":\n    name: Praktijk\n    rules:\n'
        "      gp-duration-limt:\n        parameters: {max_days: 5}\n",
        encoding="utf-8",
    )
    [problem] = validate_ruleset_file(overlays)
    assert problem.file == str(overlays)
    assert problem.message == "unknown rule id; did you mean 'gp-duration-limit'?"
