"""The engine never fails the call: any combination of facts gives valid cards, and a defect
in one rule costs only that rule's card."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cds_hooks.models import Card
from rules.catalogue import load_catalogue
from rules.engine import Evaluator
from rules.facts import (
    DurationSource,
    OpioidStrength,
    OrderFacts,
    PatientFacts,
    PrescriberRole,
    ReleaseType,
)
from rules.hooks import HOOK_NAMES
from rules.language import SUPPORTED_LANGUAGES, Language
from rules.registry import RULE_REGISTRY, Finding, RuleContext
from rules.rulesets import RuleSet
from tests.rules.conftest import (
    TODAY,
    card_for,
    exposure,
    facts,
    order,
    oxycodone_mga,
    patient,
    run,
)


def _order(
    release: ReleaseType,
    strength: OpioidStrength,
    per_day: float | None,
    as_needed: bool,
    days: int | None,
    indefinite: bool,
    repeats: int,
    oat: bool,
    role: PrescriberRole,
    sets: set[str],
    patch: bool,
) -> OrderFacts:
    return order(
        medication=oxycodone_mga(release_type=release, strength=strength, is_patch=patch),
        doses_per_day=per_day,
        as_needed=as_needed,
        total_covered_days=None if days is None else days * (1 + repeats),
        duration_days=days,
        duration_indefinite=indefinite,
        duration_source=DurationSource.NONE if days is None else DurationSource.QUANTITY,
        repeats_allowed=repeats,
        is_oat=oat,
        prescriber_role=role,
        indication_sets=frozenset(sets),
        has_indication=bool(sets),
    )


orders = st.builds(
    _order,
    st.sampled_from(list(ReleaseType)),
    st.sampled_from(list(OpioidStrength)),
    st.one_of(st.none(), st.floats(min_value=0.1, max_value=12)),
    st.booleans(),
    st.one_of(st.none(), st.integers(min_value=1, max_value=400)),
    st.booleans(),
    st.integers(min_value=0, max_value=12),
    st.booleans(),
    st.sampled_from(list(PrescriberRole)),
    st.sets(st.sampled_from(["bony_musculoskeletal_pain", "fracture", "palliative_or_cancer"])),
    st.booleans(),
)
patients = st.builds(
    lambda history_days, sets, pregnant, ome, supply_left, postcode: patient(
        history=tuple(
            exposure(f"MedicationRequest/h{n}", start_offset=-days - n, days=days)
            for n, days in enumerate(history_days)
        ),
        last_prior_prescription=(
            exposure("MedicationRequest/h0", start_offset=-history_days[0], days=history_days[0])
            if history_days
            else None
        ),
        condition_sets=frozenset(sets),
        pregnant=pregnant,
        total_ome_mg_per_day=ome,
        latest_supply_end={
            ("oxycodone", ReleaseType.LONG_ACTING): TODAY + timedelta(days=supply_left)
        },
        postcode=postcode,
        opioid_days_new_user_window=sum(history_days),
    ),
    st.lists(st.integers(min_value=1, max_value=120), max_size=6),
    st.sets(
        st.sampled_from(["opioid_use_disorder", "alcohol_use_disorder", "palliative_or_cancer"])
    ),
    st.booleans(),
    st.floats(min_value=0, max_value=2000, allow_nan=False),
    st.integers(min_value=-30, max_value=30),
    st.one_of(st.none(), st.sampled_from(["3771", "3925", "3811", "ab"])),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    hook=st.sampled_from(HOOK_NAMES),
    the_orders=st.lists(orders, max_size=3),
    the_patient=patients,
    language=st.sampled_from(SUPPORTED_LANGUAGES),
)
def test_any_facts_give_valid_cards(
    evaluator: Evaluator,
    hook: str,
    the_orders: list[OrderFacts],
    the_patient: PatientFacts,
    language: Language,
) -> None:
    numbered = [replace(o, order_id=f"MedicationRequest/{n}") for n, o in enumerate(the_orders)]
    evaluation = run(
        evaluator,
        facts(hook, orders=numbered, patient_facts=the_patient),
        language=language,
    )
    assert "error" not in evaluation.skipped_rule_ids.values()
    assert len(evaluation.fired_rule_ids) == len(set(evaluation.fired_rule_ids))
    cards = evaluation.cards  # checked by the CDS Hooks models when built
    # ... and their JSON reads back as itself: valid CDS Hooks, no nulls, no empty values.
    for card in cards:
        wire = card.to_json_dict()
        assert Card.model_validate(wire).to_json_dict() == wire
    for card in cards:
        assert 0 < len(card.summary) < 140
        assert "{" not in card.summary  # every placeholder was filled
        assert card.source.topic is not None
        assert card.source.topic.code in evaluation.fired_rule_ids


def test_a_failing_rule_costs_only_its_own_card(
    ruleset: RuleSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(ctx: RuleContext[object]) -> Finding | None:  # type: ignore[type-var]
        raise RuntimeError("defect")

    monkeypatch.setitem(
        RULE_REGISTRY,
        "short-acting-opioid",
        replace(RULE_REGISTRY["short-acting-opioid"], check=broken),
    )
    evaluator = Evaluator(ruleset, load_catalogue())
    evaluation = run(evaluator, facts(orders=[order(total_covered_days=14)]))
    assert evaluation.skipped_rule_ids["short-acting-opioid"] == "error"
    assert evaluation.fired_rule_ids == ["gp-duration-limit", "incomplete-check"]


@pytest.mark.parametrize(
    ("hook", "rule_id"),
    [("order-sign", "short-acting-opioid"), ("patient-view", "chronic-user-review")],
)
@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_a_card_lost_to_a_defect_is_named_to_the_gp(
    ruleset: RuleSet,
    monkeypatch: pytest.MonkeyPatch,
    hook: str,
    rule_id: str,
    language: Language,
) -> None:
    """A rule whose check or card raises must not vanish silently: no card reads as "all
    is well", so the incomplete-check card names the check that failed (also on
    patient-view, where incomplete-check does not otherwise run)."""

    def broken(ctx: RuleContext[object]) -> Finding | None:  # type: ignore[type-var]
        raise RuntimeError("defect")

    monkeypatch.setitem(RULE_REGISTRY, rule_id, replace(RULE_REGISTRY[rule_id], check=broken))
    evaluator = Evaluator(ruleset, load_catalogue())
    evaluation = run(
        evaluator, facts(hook, orders=[order(total_covered_days=14)]), language=language
    )
    assert evaluation.skipped_rule_ids[rule_id] == "error"
    card = card_for(evaluation, "incomplete-check")
    assert card.detail is not None
    assert ruleset.rules[rule_id].title.get(language) in card.detail
    assert "defect" not in card.detail  # the error itself is for the log, not the card


def test_a_card_whose_rendering_fails_is_named_to_the_gp(
    ruleset: RuleSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    evaluator = Evaluator(ruleset, load_catalogue())
    render = evaluator.renderer.render

    def render_failing_for_one_rule(**kwargs: Any) -> Card:
        if kwargs["rule_id"] == "gp-duration-limit":
            raise KeyError("placeholder")
        return render(**kwargs)

    monkeypatch.setattr(evaluator.renderer, "render", render_failing_for_one_rule)
    evaluation = run(evaluator, facts(orders=[order(total_covered_days=14)]), language="en")
    assert "gp-duration-limit" not in evaluation.fired_rule_ids
    detail = card_for(evaluation, "incomplete-check").detail or ""
    assert ruleset.rules["gp-duration-limit"].title.en in detail


def test_a_failing_rule_is_logged_with_its_frames_not_its_message(
    ruleset: RuleSet, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The message of an exception may quote patient data; where it failed may not."""

    def broken(ctx: RuleContext[object]) -> Finding | None:  # type: ignore[type-var]
        raise ValueError("patient 999911120 (Wilhelmina Zwartkop) has no dose")

    monkeypatch.setitem(
        RULE_REGISTRY,
        "short-acting-opioid",
        replace(RULE_REGISTRY["short-acting-opioid"], check=broken),
    )
    evaluator = Evaluator(ruleset, load_catalogue())
    with caplog.at_level("WARNING", logger="rules.engine"):
        run(evaluator, facts(orders=[order(total_covered_days=14)]))

    [line] = [r.getMessage() for r in caplog.records if "short-acting-opioid" in r.getMessage()]
    assert line.startswith("rule short-acting-opioid failed on hook order-sign: ValueError at ")
    assert "rules/engine.py:" in line and " run_rule > " in line
    assert line.endswith(f"test_engine_robustness.py:{_line_of(broken)} broken")
    assert "999911120" not in line and "Zwartkop" not in line
    assert all(record.exc_info is None for record in caplog.records)  # no traceback text


def _line_of(function: Any) -> int:
    """The line of a one-line function body (where it raises)."""
    line: int = function.__code__.co_firstlineno + 1
    return line
