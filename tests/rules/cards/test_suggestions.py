"""Cards and their suggestions: a suggestion that cannot be built costs only itself."""

from __future__ import annotations

import logging

import pytest

from cds_hooks.models import Suggestion
from rules.cards import SuggestionFactory
from rules.engine import Evaluator
from rules.registry import Finding
from rules.rulesets import RuleSet
from tests.rules.conftest import card_for, draft, explanation, facts, order, run


def test_an_invalid_draft_gets_no_update_but_the_card_still_fires(evaluator: Evaluator) -> None:
    broken = draft(subject="not-a-reference")
    evaluation = run(evaluator, facts(orders=[order(total_covered_days=14)]), drafts=[broken])
    card = card_for(evaluation, "gp-duration-limit")
    assert card.suggestions == []
    assert card.selection_behavior is None
    assert explanation(card)["notes"]["suggestions_omitted"][0]["order_id"] == (
        "MedicationRequest/draft-1"
    )


def test_a_suggestion_that_cannot_be_built_is_left_off_but_its_card_is_sent(
    evaluator: Evaluator, caplog: pytest.LogCaptureFixture
) -> None:
    # Nested too deep to copy (copy.deepcopy would exhaust the stack): a's update is left off.
    nested: dict[str, object] = {"valueString": "secret"}
    for _ in range(250):
        nested = {"url": "http://example.org/nested", "extension": [nested]}
    orders = [
        order("MedicationRequest/a", total_covered_days=14),
        order("MedicationRequest/b", total_covered_days=14),
    ]
    drafts = [draft("a", note=[{"text": "n", "extension": [nested]}]), draft("b")]
    with caplog.at_level(logging.WARNING, logger="rules.cards"):
        evaluation = run(evaluator, facts(orders=orders), drafts=drafts)
    card = card_for(evaluation, "gp-duration-limit")
    [suggestion] = card.suggestions  # the one for draft b; building a's raised
    assert suggestion.actions[0].resource is not None
    assert suggestion.actions[0].resource["id"] == "b"
    [record] = [r for r in caplog.records if r.name.startswith("rules.cards")]
    assert "gp-duration-limit" in record.getMessage()
    assert "ValueError" in record.getMessage()
    assert "secret" not in record.getMessage()  # the rule and error type only, never data


def test_a_suggestion_builder_that_raises_costs_the_card_only_its_suggestions(
    evaluator: Evaluator, ruleset: RuleSet, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(factory: SuggestionFactory) -> list[Suggestion]:
        raise KeyError("secret patient detail")

    factory = SuggestionFactory(
        ruleset=ruleset,
        referral_templates=evaluator.referral_templates,
        language="nl",
        drafts={},
        units_per_day={},
        patient_ref=None,
        postcode=None,
    )
    with caplog.at_level(logging.WARNING, logger="rules.cards"):
        card = evaluator.renderer.render(
            rule_id="short-acting-opioid",
            finding=Finding(order_ids=[], facts={}, suggestions=broken),
            language="nl",
            orders_by_id={},
            explanation_context={"hook": "order-sign"},
            factory=factory,
        )
    assert card.summary and card.suggestions == [] and card.selection_behavior is None
    [record] = caplog.records
    assert "short-acting-opioid" in record.getMessage() and "KeyError" in record.getMessage()
    assert "secret" not in record.getMessage()
