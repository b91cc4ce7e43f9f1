"""What the clinical reading of the cards found, as the GP sees it now."""

from __future__ import annotations

from datetime import timedelta

from rules.engine import Evaluator
from rules.facts import ReleaseType
from tests.rules.conftest import (
    TODAY,
    card_for,
    draft,
    explanation,
    exposure,
    facts,
    order,
    oxycodone_mga,
    patient,
    run,
)


def test_breakthrough_next_to_a_running_long_acting_form_is_not_told_to_use_that_form(
    evaluator: Evaluator,
) -> None:
    short_acting = order(
        medication=oxycodone_mga(
            release_type=ReleaseType.SHORT_ACTING, product_display="OXYCODON TABLET 5MG"
        )
    )
    running = patient(
        latest_supply_end={("oxycodone", ReleaseType.LONG_ACTING): TODAY + timedelta(days=10)}
    )
    card = card_for(
        run(evaluator, facts(orders=[short_acting], patient_facts=running)), "short-acting-opioid"
    )
    assert card.detail is not None
    assert "doorbraakmedicatie" in card.detail
    assert "Overweeg de langwerkende vorm" not in card.detail
    assert explanation(card)["facts"]["orders"][0]["advice"] == "breakthrough"
    # A long-acting supply that ran out half a year ago is no reason to say so.
    alone = card_for(run(evaluator, facts(orders=[short_acting])), "short-acting-opioid")
    assert explanation(alone)["facts"]["orders"][0]["advice"] != "breakthrough"


def test_a_patient_in_addiction_care_is_not_referred_to_it_again(evaluator: Evaluator) -> None:
    methadone = exposure("MedicationRequest/oat", start_offset=-60, days=60, is_oat=True)
    on_oat = patient(condition_sets=frozenset({"opioid_use_disorder"}), history=(methadone,))
    card = card_for(run(evaluator, facts(patient_facts=on_oat)), "opioid-use-disorder")
    performers = [
        action.resource["performer"][0]["display"]
        for suggestion in card.suggestions
        for action in suggestion.actions
        if action.resource and action.resource["resourceType"] == "ServiceRequest"
    ]
    assert performers and not any("verslavingszorg" in p.lower() for p in performers)
    assert explanation(card)["notes"]["referrals_in_place"] == ["verslavingszorg"]


def test_no_known_pharmacy_is_not_zero_pharmacies(evaluator: Evaluator) -> None:
    three = patient(prescribers_in_lookback=frozenset({"a", "b", "c"}))
    card = card_for(run(evaluator, facts(patient_facts=three)), "multiple-prescribers")
    assert "0 apotheken" not in card.summary
    assert card.summary == "Opioïden in 90 dagen van 4 voorschrijvers (apotheek onbekend)"


def test_the_indication_is_written_as_a_note_not_as_a_deviation(evaluator: Evaluator) -> None:
    no_indication = order(has_indication=False)
    evaluation = run(evaluator, facts(orders=[no_indication]), drafts=[draft()])
    card = card_for(evaluation, "missing-indication-or-duration")
    notes = [
        action.resource["note"][-1]["text"]
        for suggestion in card.suggestions
        for action in suggestion.actions
        if action.resource
    ]
    assert notes[0].startswith("Toelichting voorschrijver: indicatie ")
    assert not any("afwijking" in note for note in notes)


def test_chronic_use_with_an_order_of_unknown_duration_does_not_say_zero_days(
    evaluator: Evaluator,
) -> None:
    history = tuple(
        exposure(f"MedicationRequest/c{n}", start_offset=-84 + 14 * n, days=14) for n in range(6)
    )
    chronic = patient(history=history, last_prior_prescription=history[-1])
    unknown = order(total_covered_days=None, duration_days=None)
    card = card_for(run(evaluator, facts(orders=[unknown], patient_facts=chronic)), "chronic-use")
    assert "dit recept (duur onbekend)" in card.summary
    assert "0 dagen" not in card.summary
    assert explanation(card)["facts"].get("order_days") is None  # unknown, not 0
