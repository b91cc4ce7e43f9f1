"""Cards and their suggestions: a suggestion that cannot be built costs only itself."""

from __future__ import annotations

import copy
import logging
from datetime import timedelta
from typing import Any

import pytest
from fhir.resources.R4B.medicationrequest import MedicationRequest

import rules.cards.suggestions as suggestions_module
from cds_hooks.models import Suggestion
from fhir_fixtures.builders import DURATION, PERIOD_OF_USE, dispense_request, dosage, qty
from rules.cards import SuggestionFactory
from rules.engine import Evaluator
from rules.registry import Finding
from rules.rulesets import RuleSet
from tests.rules.conftest import (
    TODAY,
    card_for,
    draft,
    explanation,
    facts,
    order,
    patient,
    run,
)


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


# --- one validation per draft and call (rules/cards/suggestions.py, "update actions") ------

_DAYS_14 = {"value": 14, "unit": "dag", "system": "http://unitsofmeasure.org", "code": "d"}


def _valid_drafts() -> list[dict[str, Any]]:
    """Valid drafts with every part an update writes to, present and absent."""
    bounded = dosage(frequency=2)
    bounded["timing"]["repeat"]["boundsDuration"] = _DAYS_14
    in_period = dosage(frequency=3)
    in_period["timing"]["repeat"]["boundsPeriod"] = {"start": "2026-11-01", "end": "2026-11-14"}
    without_supply = draft()
    del without_supply["dispenseRequest"]
    nested_duration = {
        "start": "2026-11-01",
        "extension": [{"url": DURATION, "valueDuration": _DAYS_14}],
    }
    return [
        draft(),
        draft(dispenseRequest=dispense_request(quantity=qty(28, unit="stuk"), days=14, repeats=2)),
        draft(dosageInstruction=[bounded, in_period]),
        draft(dosageInstruction=bounded),  # a single object: an array after normalising
        without_supply,
        draft(extension=[]),
        draft(extension=[{"url": PERIOD_OF_USE, "valuePeriod": nested_duration}]),
        draft(extension=[{"url": PERIOD_OF_USE, "valuePeriod": {"start": "9999-12-31"}}]),
        draft(note=[{"text": "eigen notitie"}]),
    ]


def _factory(
    evaluator: Evaluator, ruleset: RuleSet, drafts: list[dict[str, Any]], units_per_day: float
) -> SuggestionFactory:
    factory = SuggestionFactory(
        ruleset=ruleset,
        referral_templates=evaluator.referral_templates,
        language="nl",
        drafts={f"MedicationRequest/{d['id']}": d for d in drafts},
        units_per_day={f"MedicationRequest/{d['id']}": units_per_day for d in drafts},
        patient_ref="Patient/pat-0001",
        postcode=None,
    )
    factory.bind(
        rule_id="gp-duration-limit", rule_spec=ruleset.rules["gp-duration-limit"], notes={}
    )
    return factory


def _count_validations(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    validated: list[dict[str, Any]] = []
    validate = suggestions_module._valid_medication_request

    def counting(resource: dict[str, Any]) -> bool:
        validated.append(resource)
        return validate(resource)

    monkeypatch.setattr(suggestions_module, "_valid_medication_request", counting)
    return validated


def _all_updates(factory: SuggestionFactory, order_id: str) -> list[Suggestion | None]:
    return [
        factory.limit_duration(order_id, max_days=7, start=TODAY, label="7", description="7"),
        factory.limit_duration(order_id, max_days=5, start=None, label="5", description="5"),
        factory.no_repeats(order_id, label="0", description="0"),
        factory.add_note([order_id], note="Reden: palliatief", label="r", description="r"),
    ]


@pytest.mark.parametrize("the_draft", _valid_drafts())
def test_known_valid_changes_keep_a_valid_draft_valid_with_one_validation(
    evaluator: Evaluator,
    ruleset: RuleSet,
    monkeypatch: pytest.MonkeyPatch,
    the_draft: dict[str, Any],
) -> None:
    """Limiting the duration, removing the repeats and adding a note write only known-valid
    values: the draft is validated once per call, and every update still validates."""
    untouched = copy.deepcopy(the_draft)
    validated = _count_validations(monkeypatch)
    factory = _factory(evaluator, ruleset, [the_draft], units_per_day=2.0)
    built = _all_updates(factory, "MedicationRequest/draft-1")
    assert len(validated) == 1
    for suggestion in built:
        assert suggestion is not None
        [action] = suggestion.actions
        assert action.resource is not None
        MedicationRequest.model_validate(action.resource)
    # Each update wrote to its own copies: the draft is as it came.
    assert the_draft == untouched
    limited = built[0]
    assert limited is not None and limited.actions[0].resource is not None
    supply = limited.actions[0].resource["dispenseRequest"]
    assert supply["numberOfRepeatsAllowed"] == 0
    assert supply["expectedSupplyDuration"]["value"] == 7


def test_a_limit_writes_what_it_wrote_before(evaluator: Evaluator, ruleset: RuleSet) -> None:
    bounded = dosage(frequency=2)
    bounded["timing"]["repeat"]["boundsDuration"] = _DAYS_14
    in_period = dosage(frequency=3)
    in_period["timing"]["repeat"]["boundsPeriod"] = {"start": "2026-11-01", "end": "2026-11-14"}
    the_draft = draft(dosageInstruction=[bounded, in_period])
    factory = _factory(evaluator, ruleset, [the_draft], units_per_day=2.0)
    [limited, *_] = _all_updates(factory, "MedicationRequest/draft-1")
    assert limited is not None and limited.actions[0].resource is not None
    resource = limited.actions[0].resource
    end = (TODAY + timedelta(days=6)).isoformat()
    assert resource["extension"] == [
        {"url": PERIOD_OF_USE, "valuePeriod": {"start": TODAY.isoformat(), "end": end}}
    ]
    assert resource["dispenseRequest"]["quantity"] == {"value": 14.0, "unit": "stuk"}
    assert resource["dosageInstruction"][0]["timing"]["repeat"]["boundsDuration"]["value"] == 7
    assert resource["dosageInstruction"][1]["timing"]["repeat"]["boundsPeriod"] == {
        "start": TODAY.isoformat(),
        "end": end,
    }
    assert the_draft["dispenseRequest"]["quantity"]["value"] == 28


def test_what_is_not_known_to_be_valid_is_validated_after_the_change(
    evaluator: Evaluator, ruleset: RuleSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    order_id = "MedicationRequest/draft-1"
    # A period of use given as text: a valuePeriod beside it would be a second value[x].
    as_text = draft(extension=[{"url": PERIOD_OF_USE, "valueString": "14 dagen"}])
    MedicationRequest.model_validate(as_text)
    validated = _count_validations(monkeypatch)
    factory = _factory(evaluator, ruleset, [as_text], units_per_day=2.0)
    limited = factory.limit_duration(order_id, max_days=7, start=TODAY, label="7", description="7")
    assert limited is None
    assert len(validated) == 2  # the draft, then the changed order
    assert factory.no_repeats(order_id, label="0", description="0") is not None
    assert len(validated) == 2

    # A quantity beyond any number is no decimal.
    endless = _factory(evaluator, ruleset, [draft()], units_per_day=float("inf"))
    limited = endless.limit_duration(order_id, max_days=7, start=TODAY, label="7", description="7")
    assert limited is None

    # A draft that is not valid as it is, whose limit replaces the unreadable part.
    garbage = draft(extension=[{"url": PERIOD_OF_USE, "valuePeriod": {"start": "garbage"}}])
    repaired = _factory(evaluator, ruleset, [garbage], units_per_day=2.0)
    limited = repaired.limit_duration(order_id, max_days=7, start=TODAY, label="7", description="7")
    assert limited is not None and limited.actions[0].resource is not None
    MedicationRequest.model_validate(limited.actions[0].resource)
    assert repaired.add_note([order_id], note="n", label="r", description="r") is None
