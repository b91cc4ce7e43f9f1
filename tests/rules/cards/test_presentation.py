"""How the cards of one call read together: their order and the words the rules put in."""

from __future__ import annotations

from rules.engine import Evaluator
from rules.facts import ReleaseType
from tests.rules.conftest import card_for, facts, order, oxycodone_mga, patient, run


def test_safety_cards_come_before_agreements_and_education_comes_last(
    evaluator: Evaluator,
) -> None:
    short_acting = order(
        medication=oxycodone_mga(
            release_type=ReleaseType.SHORT_ACTING, product_display="OXYCODON TABLET 5MG"
        ),
        total_covered_days=14,
    )
    situation = patient(history=(), opioid_days_new_user_window=0, pregnant=True)
    evaluation = run(evaluator, facts(orders=[short_acting], patient_facts=situation))
    rules = [card.source.topic.code for card in evaluation.cards if card.source.topic]
    assert {"pregnancy", "short-acting-opioid", "gp-duration-limit", "new-user-education"} <= set(
        rules
    )
    # All four are warnings but education (info): pregnancy (safety) first, education last.
    assert rules[0] == "pregnancy"
    assert rules[-1] == "new-user-education"
    assert rules.index("short-acting-opioid") < rules.index("gp-duration-limit")
    indicators = [card.indicator for card in evaluation.cards]
    rank = {"critical": 0, "warning": 1, "info": 2}
    assert indicators == sorted(indicators, key=rank.__getitem__)


def test_once_a_day_and_one_prescriber_are_singular(evaluator: Evaluator) -> None:
    once = order(doses_per_day=1.0)
    english = run(evaluator, facts(orders=[once]), language="en")
    assert "opioid once a day:" in card_for(english, "dosing-frequency").summary
    dutch = run(evaluator, facts(orders=[once]))
    assert "opioïd 1× per dag:" in card_for(dutch, "dosing-frequency").summary

    three_pharmacies = patient(pharmacies_in_lookback=frozenset({"a", "b", "c"}))
    shopping = run(evaluator, facts(patient_facts=three_pharmacies), language="en")
    summary = card_for(shopping, "multiple-prescribers").summary
    assert summary == "Opioids in 90 days: 1 prescriber, 3 pharmacies"


def test_an_indefinite_order_reads_as_a_period_in_both_languages(evaluator: Evaluator) -> None:
    indefinite = order(total_covered_days=None, duration_indefinite=True)
    in_english = run(evaluator, facts(orders=[indefinite]), language="en")
    english = card_for(in_english, "gp-duration-limit")
    assert english.summary.startswith("Opioid for an indefinite period:")
    dutch = card_for(run(evaluator, facts(orders=[indefinite])), "gp-duration-limit")
    assert dutch.summary.startswith("Opioïd voor onbepaalde tijd:")


def test_the_orders_heading_in_english_says_orders(evaluator: Evaluator) -> None:
    card = card_for(
        run(evaluator, facts(orders=[order(total_covered_days=14)]), language="en"),
        "gp-duration-limit",
    )
    assert "**Order(s):**" in (card.detail or "")
    assert "Concerns" not in (card.detail or "")


def test_a_combination_product_links_its_own_apotheek_page(evaluator: Evaluator) -> None:
    paracetamol_codeine = order(
        medication=oxycodone_mga(
            codes=(("http://www.whocc.no/atc", "N02AJ06"),),
            product_display="PARACETAMOL/CODEINE TABLET 500/20MG",
            release_type=ReleaseType.SHORT_ACTING,
        )
    )
    new_user = patient(history=(), opioid_days_new_user_window=0)
    evaluation = run(evaluator, facts(orders=[paracetamol_codeine], patient_facts=new_user))
    urls = [link.url for link in card_for(evaluation, "new-user-education").links]
    assert "https://www.apotheek.nl/medicijnen/paracetamol-met-codeine" in urls
    assert "https://www.apotheek.nl/medicijnen/oxycodon" not in urls
