"""The hooks table (`rules.hooks`) and what hangs off it: discovery, rule-set validation, and
the rules a missing prefetch key switches off (declared with `@rule(..., needs=...)`)."""

from __future__ import annotations

import pytest

from app.services import SERVICES
from cds_hooks.contexts import HOOK_CONTEXTS
from rules.engine import Evaluator
from rules.hooks import HOOK_SPECS, PREFETCH_KEYS, SPEC_BY_SERVICE
from rules.registry import RULE_REGISTRY, load_builtin_rules, rule
from rules.rulesets import RuleSet
from tests.rules.conftest import facts, run


def test_every_hook_with_a_context_model_has_one_service() -> None:
    assert sorted(spec.hook for spec in HOOK_SPECS) == sorted(HOOK_CONTEXTS)
    assert list(SERVICES) == [spec.service_id for spec in HOOK_SPECS]
    for service_id, service in SERVICES.items():
        spec = SPEC_BY_SERVICE[service_id]
        assert (service.hook, service.prefetch) == (spec.hook, dict(spec.prefetch))


def test_every_hook_runs_the_rules_the_rule_set_lists_for_it(
    ruleset: RuleSet, evaluator: Evaluator
) -> None:
    for spec in HOOK_SPECS:
        listed = {rule_id for rule_id, rule in ruleset.rules.items() if spec.hook in rule.hooks}
        assert listed and set(evaluator.rule_ids_for(spec.hook)) == listed


def test_a_rule_cannot_need_data_no_hook_prefetches() -> None:
    with pytest.raises(ValueError, match="unknown prefetch keys"):
        rule("needs-nothing-known", needs={"immunizations"})
    assert "needs-nothing-known" not in RULE_REGISTRY


@pytest.mark.parametrize("key", sorted(PREFETCH_KEYS))
def test_a_missing_key_switches_off_exactly_the_rules_that_need_it(
    evaluator: Evaluator, ruleset: RuleSet, key: str
) -> None:
    for spec in HOOK_SPECS:
        evaluation = run(evaluator, facts(spec.hook), missing=frozenset({key}))
        skipped = {
            rule_id
            for rule_id, reason in evaluation.skipped_rule_ids.items()
            if reason.startswith("missing data")
        }
        assert skipped == {
            rule_id
            for rule_id in evaluator.rule_ids_for(spec.hook)
            if key in RULE_REGISTRY[rule_id].needs and ruleset.enabled_for(rule_id)
        }
        for rule_id in skipped:
            assert evaluation.skipped_rule_ids[rule_id] == f"missing data: {key}"


def test_some_rules_need_data() -> None:
    load_builtin_rules()
    assert any(definition.needs for definition in RULE_REGISTRY.values())
