"""Cards and their suggestions: a suggestion that cannot be built costs only itself."""

from __future__ import annotations

import logging

import pytest
from fhir.resources.R4B.medicationrequest import MedicationRequest

from cds_hooks.models import Suggestion
from rules.cards import SuggestionFactory
from rules.engine import Evaluator
from rules.registry import Finding
from rules.rulesets import RuleSet
from tests.rules.conftest import card_for, draft, explanation, facts, order, patient, run


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
    limits = [s for s in card.suggestions if s.is_recommended]
    [suggestion] = limits  # the one for draft b; building a's raised
    assert suggestion.actions[0].resource is not None
    assert suggestion.actions[0].resource["id"] == "b"
    # The reasons on the prescription go to the order that can still be changed.
    reasons = [s for s in card.suggestions if not s.is_recommended]
    assert len(reasons) == 3
    assert all([a.resource["id"] for a in r.actions if a.resource] == ["b"] for r in reasons)
    # The limit and the reasons each tried a's draft: each failure is logged, with the rule
    # and the error type only, never data; the explanation says why a's reasons are missing.
    records = [r for r in caplog.records if r.name.startswith("rules.cards")]
    assert len(records) == 2
    for record in records:
        assert "gp-duration-limit" in record.getMessage()
        assert "ValueError" in record.getMessage()
        assert "secret" not in record.getMessage()
    assert {"order_id": "MedicationRequest/a", "reason": "draft order nested too deep"} in (
        explanation(card)["notes"]["suggestions_omitted"]
    )


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


def test_reasons_on_the_prescription_add_a_dutch_note_to_every_order_concerned(
    evaluator: Evaluator,
) -> None:
    orders = [
        order("MedicationRequest/a", total_covered_days=14),
        order("MedicationRequest/b", total_covered_days=10),
    ]
    drafts = [draft("a", note=[{"text": "eigen notitie"}]), draft("b")]
    evaluation = run(evaluator, facts(orders=orders), drafts=drafts, language="en")
    card = card_for(evaluation, "gp-duration-limit")
    # A limit per order: the GP may accept both, so not "at most one".
    assert card.selection_behavior == "any"
    reasons = [s for s in card.suggestions if s.label.startswith("Reason on the prescription")]
    assert [s.label for s in reasons] == [
        "Reason on the prescription: handover from the medical specialist received",
        "Reason on the prescription: tapering schedule in progress",
        "Reason on the prescription: palliative care",
    ]
    tapering = reasons[1]
    assert [action.type for action in tapering.actions] == ["update", "update"]
    first = tapering.actions[0].resource
    assert first is not None and first["id"] == "a"
    # The GP's own note stays; the reason is added in Dutch, for the pharmacy.
    assert first["note"] == [
        {"text": "eigen notitie"},
        {
            "text": "Reden afwijking werkafspraak (Huisarts schrijft maximaal 1 week voor): "
            "afbouwschema loopt."
        },
    ]
    MedicationRequest.model_validate(first)


def test_for_one_order_the_limit_and_a_stated_reason_exclude_each_other(
    evaluator: Evaluator,
) -> None:
    evaluation = run(evaluator, facts(orders=[order(total_covered_days=14)]), drafts=[draft()])
    card = card_for(evaluation, "gp-duration-limit")
    assert card.selection_behavior == "at-most-one"
    assert [s.is_recommended for s in card.suggestions] == [True, None, None, None]


def test_rules_not_about_the_order_itself_offer_no_reasons(evaluator: Evaluator) -> None:
    phone = patient(
        physical_consult_dates=(), last_physical_consult=None, current_encounter_physical=False
    )
    evaluation = run(evaluator, facts(patient_facts=phone))
    for card in evaluation.cards:
        assert not any(s.label.startswith("Reden op recept") for s in card.suggestions)
