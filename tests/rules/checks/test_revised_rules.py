"""The rules as revised after the review against real data: what the GP reads on the cards, on
typed facts and through the HTTP API with the fixtures of `fhir_fixtures/` (Dutch and English)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rules.cards.render import EXPLANATION_KEY
from rules.catalogue import Catalogue
from rules.engine import Evaluator
from rules.facts import (
    ExposureSource,
    OpioidStrength,
    ReleaseType,
    SubstanceRef,
)
from rules.fixtures import FIXTURES_DIR, load_fixture
from rules.language import Language
from tests.rules.checks.test_checks import AGREEMENT_RULES
from tests.rules.conftest import (
    TODAY,
    card_for,
    explanation,
    exposure,
    facts,
    order,
    oxycodone_mga,
    patient,
    run,
)

STRONGER = ("oxycodon", "morfin", "morphin", "tapentadol", "hydromorf", "fentanyl", "methadon")
"""Strong opioids by the stems of their Dutch and English names."""


def _substance(catalogue: Catalogue, key: str) -> SubstanceRef:
    """A substance as the facts builder makes it, from the catalogue's data."""
    found = catalogue.substance(key)
    assert found is not None
    return SubstanceRef(
        found.key,
        found.name_nl,
        found.name_en,
        None,
        found.long_acting_form_nl,
        found.long_acting_form_en,
    )


def _short_acting(catalogue: Catalogue, key: str, display: str, **changes: Any) -> Any:
    substance = _substance(catalogue, key)
    strength = OpioidStrength.WEAK if key in ("tramadol", "codeine") else OpioidStrength.STRONG
    medication = oxycodone_mga(
        substances=(substance,),
        product_display=display,
        release_type=ReleaseType.SHORT_ACTING,
        release_type_basis="text: TABLET",
        strength=strength,
    )
    return order(medication=replace(medication, **changes))


def _cards(api: TestClient, name: str, language: str = "nl") -> dict[str, dict[str, Any]]:
    request, expectation = load_fixture(FIXTURES_DIR / f"{name}.json")
    response = api.post(
        f"/cds-services/{expectation.service}",
        json=request,
        headers={"Accept-Language": language},
    )
    assert response.status_code == 200, response.text
    return {card["source"]["topic"]["code"]: card for card in response.json()["cards"]}


# --------------------------------------------------------------------------- rule 1


def test_rule_1_names_the_long_acting_form_of_the_same_substance(
    evaluator: Evaluator, catalogue: Catalogue
) -> None:
    cases = {
        "oxycodone": ("oxycodon MGA 2× daags", "oxycodone modified-release twice a day"),
        "morphine": ("morfine MGA 2× daags", "morphine modified-release twice a day"),
        "tapentadol": ("tapentadol MGA 2× daags", "tapentadol modified-release twice a day"),
        "hydromorphone": ("hydromorfon MGA 2× daags", "hydromorphone modified-release twice a day"),
        "tramadol": ("tramadol MGA 2× daags", "tramadol modified-release twice a day"),
    }
    for key, (dutch, english) in cases.items():
        the_facts = facts(orders=[_short_acting(catalogue, key, f"{key} tablet")])
        nl = card_for(run(evaluator, the_facts), "short-acting-opioid")
        en = card_for(run(evaluator, the_facts, language="en"), "short-acting-opioid")
        assert nl.detail is not None and dutch in nl.detail
        assert en.detail is not None and english in en.detail
        [facts_of_order] = explanation(nl)["facts"]["orders"]
        assert facts_of_order["advice"] == "long_acting_form"
        assert facts_of_order["long_acting_form"] == dutch


@pytest.mark.parametrize("language", ["nl", "en"])
@pytest.mark.parametrize(
    ("key", "display"),
    [("tramadol", "TRAMADOL CAPSULE 50MG"), ("codeine", "PARACETAMOL/CODEINE TABLET 500/10MG")],
)
def test_rule_1_never_proposes_a_stronger_opioid_for_a_weak_one(
    evaluator: Evaluator, catalogue: Catalogue, key: str, display: str, language: Language
) -> None:
    weak = _short_acting(catalogue, key, display)
    card = card_for(run(evaluator, facts(orders=[weak]), language=language), "short-acting-opioid")
    text = f"{card.summary}\n{card.detail}".lower()
    assert not [name for name in STRONGER if name in text], text


def test_rule_1_says_plainly_that_codeine_has_no_long_acting_form(
    evaluator: Evaluator, catalogue: Catalogue
) -> None:
    codeine = _short_acting(catalogue, "codeine", "PARACETAMOL/CODEINE TABLET 500/10MG")
    nl = card_for(run(evaluator, facts(orders=[codeine])), "short-acting-opioid")
    en = card_for(run(evaluator, facts(orders=[codeine]), language="en"), "short-acting-opioid")
    assert nl.detail is not None and "geen langwerkende vorm" in nl.detail
    assert "geen ander opioïd" in nl.detail and "MGA" not in nl.detail
    assert en.detail is not None and "no long-acting form of codeine" in en.detail
    assert "modified-release" not in en.detail
    assert explanation(nl)["facts"]["orders"][0]["advice"] == "no_long_acting_form"


def test_rule_1_proposes_no_opioid_where_rule_6_fires(
    evaluator: Evaluator, catalogue: Catalogue
) -> None:
    back_pain = _short_acting(catalogue, "oxycodone", "OXYCODON TABLET 10MG")
    back_pain = replace(back_pain, indication_sets=frozenset({"bony_musculoskeletal_pain"}))
    languages: tuple[tuple[Language, str], ...] = (("nl", "MGA"), ("en", "modified-release"))
    for language, alternative in languages:
        evaluation = run(evaluator, facts(orders=[back_pain]), language=language)
        assert "bony-musculoskeletal-pain" in evaluation.fired_rule_ids
        card = card_for(evaluation, "short-acting-opioid")
        assert card.detail is not None and alternative not in card.detail
        assert explanation(card)["facts"]["orders"][0]["advice"] == "bony_pain"
    # A fracture is not bony pain (rule 6 stays silent), so the long-acting form is named.
    fracture = replace(
        back_pain, indication_sets=frozenset({"bony_musculoskeletal_pain", "fracture"})
    )
    card = card_for(run(evaluator, facts(orders=[fracture])), "short-acting-opioid")
    assert card.detail is not None and "oxycodon MGA 2× daags" in card.detail


@pytest.mark.parametrize("language", ["nl", "en"])
@pytest.mark.parametrize(
    "name",
    ["short-acting-tramadol-capsule", "short-acting-paracetamol-codeine", "pregnancy-tramadol"],
)
def test_through_the_api_a_weak_opioid_gets_no_stronger_one(
    api: TestClient, name: str, language: str
) -> None:
    card = _cards(api, name, language)["short-acting-opioid"]
    text = f"{card['summary']}\n{card['detail']}".lower()
    assert not [stem for stem in STRONGER if stem in text], text
    if "tramadol" in name:
        assert ("tramadol mga" if language == "nl" else "tramadol modified-release") in text


def test_through_the_api_back_pain_gets_no_opioid_alternative(api: TestClient) -> None:
    cards = _cards(api, "short-acting-oxycodon-back-pain")
    assert "bony-musculoskeletal-pain" in cards
    detail = cards["short-acting-opioid"]["detail"]
    assert "MGA" not in detail and "benige pijn" in detail


# --------------------------------------------------------------------------- rule 2


def test_rule_2_judges_a_once_daily_product_against_once_a_day(evaluator: Evaluator) -> None:
    once_daily = oxycodone_mga(once_daily=True, product_display="TRAMADOL 24 HR 200MG")
    once = run(evaluator, facts(orders=[order(medication=once_daily, doses_per_day=1)]))
    assert "dosing-frequency" not in once.fired_rule_ids
    twice = run(evaluator, facts(orders=[order(medication=once_daily, doses_per_day=2)]))
    card = card_for(twice, "dosing-frequency")
    assert card.indicator == "info"
    assert "1× daags" in card.summary and "2× per dag" in card.summary
    assert card.detail is not None and "dubbele" in card.detail
    assert explanation(card)["facts"]["orders"][0]["once_daily_product"] is True
    english = card_for(
        run(
            evaluator, facts(orders=[order(medication=once_daily, doses_per_day=2)]), language="en"
        ),
        "dosing-frequency",
    )
    assert "once-daily" in english.summary
    as_needed = run(evaluator, facts(orders=[order(medication=once_daily, as_needed=True)]))
    assert card_for(as_needed, "dosing-frequency").indicator == "warning"
    # A usual (12-hour) MGA product once a day still fires, against 2-3 times a day.
    usual = run(evaluator, facts(orders=[order(doses_per_day=1)]))
    assert "1× per dag" in card_for(usual, "dosing-frequency").summary


# --------------------------------------------------------------------------- rule 5


def test_rule_5_leaves_a_continuation_without_consult_to_rule_4(evaluator: Evaluator) -> None:
    prior = exposure("MedicationRequest/prior", start_offset=-8, days=5)
    by_phone = patient(
        history=(prior,),
        last_prior_prescription=prior,
        physical_consult_dates=(TODAY - timedelta(days=8),),
        last_physical_consult=TODAY - timedelta(days=8),
        current_encounter_physical=False,
    )
    continuation = order(
        course_of_therapy="continuous", prior_prescription_ref="MedicationRequest/prior"
    )
    evaluation = run(evaluator, facts(orders=[continuation], patient_facts=by_phone))
    assert "follow-up-without-consult" in evaluation.fired_rule_ids
    assert "repeat-prescription" not in evaluation.fired_rule_ids

    with_repeats = replace(continuation, repeats_allowed=2, total_covered_days=15)
    evaluation = run(evaluator, facts(orders=[with_repeats], patient_facts=by_phone))
    card = card_for(evaluation, "repeat-prescription")
    assert card.detail is not None and "Aantal herhalingen: 2" in card.detail
    assert "herhalingen (2)" in card.summary
    # The two cards do not say the same thing: rule 5 is about the repeats on the order.
    assert "consult" not in card.summary
    assert "consult" in card_for(evaluation, "follow-up-without-consult").summary


# --------------------------------------------------------------------------- rule 9


def _history(days_before: int) -> Any:
    earlier = exposure("MedicationRequest/earlier", start_offset=-days_before, days=days_before)
    return patient(history=(earlier,), last_prior_prescription=earlier)


def test_rule_9_gives_both_numbers_and_keeps_them_in_the_explanation(
    evaluator: Evaluator,
) -> None:
    thirty_days = order(duration_days=30, total_covered_days=30)
    the_facts = facts(orders=[thirty_days], patient_facts=_history(56))
    nl = card_for(run(evaluator, the_facts), "chronic-use")
    assert "eerder 56 dagen + dit recept 30 dagen" in nl.summary
    en = card_for(run(evaluator, the_facts, language="en"), "chronic-use")
    assert "earlier 56 days + this order 30 days" in en.summary
    explained = explanation(nl)["facts"]
    assert explained["prior_opioid_days"] == 56
    assert explained["order_days"] == 30
    assert explained["total_opioid_days"] == 86


def test_rule_9_leaves_a_new_users_long_order_to_rule_3(evaluator: Evaluator) -> None:
    thirty_days = order(duration_days=30, total_covered_days=30)
    new_user = patient(history=(), opioid_days_new_user_window=0)
    evaluation = run(evaluator, facts(orders=[thirty_days], patient_facts=new_user))
    assert "chronic-use" not in evaluation.fired_rule_ids
    assert "gp-duration-limit" in evaluation.fired_rule_ids
    # Earlier use that, with this order, stays within 28 days is not chronic use either.
    short = run(evaluator, facts(orders=[order()], patient_facts=_history(20)))
    assert "chronic-use" not in short.fired_rule_ids


def test_through_the_api_the_chronic_use_summary_gives_both_numbers(api: TestClient) -> None:
    nl = _cards(api, "chronic-use-56-plus-30-days")["chronic-use"]
    assert "eerder 56 dagen + dit recept 30 dagen" in nl["summary"]
    facts_used = nl["extension"][EXPLANATION_KEY]["facts"]
    assert (facts_used["prior_opioid_days"], facts_used["order_days"]) == (56, 30)
    en = _cards(api, "chronic-use-56-plus-30-days", "en")["chronic-use"]
    assert "earlier 56 days + this order 30 days" in en["summary"]


# --------------------------------------------------------------------------- rule 10


def test_rule_10_a_patient_on_oat_is_no_new_user(api: TestClient) -> None:
    cards = _cards(api, "oat-patient-gets-oxycodon")
    assert "new-user-education" not in cards
    assert "opioid-use-disorder" in cards


# --------------------------------------------------------------------------- rule 11


def test_rule_11_compares_the_same_substance_and_release_type(evaluator: Evaluator) -> None:
    nine_days = TODAY + timedelta(days=9)
    long_acting_left = patient(
        latest_supply_end={("oxycodone", ReleaseType.LONG_ACTING): nine_days}
    )
    breakthrough = order(
        medication=oxycodone_mga(release_type=ReleaseType.SHORT_ACTING), as_needed=True
    )
    evaluation = run(evaluator, facts(orders=[breakthrough], patient_facts=long_acting_left))
    assert "early-refill" not in evaluation.fired_rule_ids
    assert "short-acting-opioid" in evaluation.fired_rule_ids
    refill = run(evaluator, facts(patient_facts=long_acting_left))
    card = card_for(refill, "early-refill")
    assert explanation(card)["facts"]["supplies"][0]["release_type"] == "long-acting"
    unknown = order(medication=oxycodone_mga(release_type=ReleaseType.UNKNOWN))
    silent = run(evaluator, facts(orders=[unknown], patient_facts=long_acting_left))
    assert "early-refill" not in silent.fired_rule_ids


# --------------------------------------------------------------------------- rule 17


def _patch(**changes: Any) -> Any:
    fentanyl = SubstanceRef("fentanyl", "fentanyl", "fentanyl", "N02AB03")
    medication = oxycodone_mga(
        substances=(fentanyl,),
        product_display="FENTANYL PLEISTER 12UG/UUR",
        is_patch=True,
        dose_form="PLEISTER",
    )
    return order(medication=medication, route="transdermal", doses_per_day=1 / 3, **changes)


def test_rule_17_warns_for_a_fentanyl_patch_in_an_opioid_naive_patient(
    evaluator: Evaluator,
) -> None:
    naive = patient()  # one short course half a year ago
    evaluation = run(evaluator, facts(orders=[_patch()], patient_facts=naive))
    card = card_for(evaluation, "fentanyl-patch-opioid-naive")
    assert card.indicator == "warning"
    assert "opioïd-naïeve" in card.summary and "ademdepressie" in card.summary
    assert card.detail is not None
    assert "afgelopen 30 dagen geen opioïd" in card.detail
    assert "bedoeld voor opioïd-tolerante patiënten" in card.detail
    assert "levensbedreigende ademdepressie" in card.detail
    assert "FENTANYL PLEISTER 12UG/UUR" in card.detail
    assert explanation(card)["facts"]["naive_window_days"] == 30
    english = card_for(
        run(evaluator, facts(orders=[_patch()], patient_facts=naive), language="en"),
        "fentanyl-patch-opioid-naive",
    )
    assert "opioid-naive" in english.summary and "respiratory depression" in english.summary
    assert english.detail is not None and "no opioid in the last 30 days" in english.detail
    # On order-select too, and in palliative care (a safety rule).
    assert (
        "fentanyl-patch-opioid-naive"
        in run(
            evaluator, facts("order-select", orders=[_patch()], patient_facts=naive)
        ).fired_rule_ids
    )
    palliative = replace(naive, condition_sets=frozenset({"palliative_or_cancer"}))
    in_palliative_care = run(evaluator, facts(orders=[_patch()], patient_facts=palliative))
    assert "fentanyl-patch-opioid-naive" in in_palliative_care.fired_rule_ids


def test_rule_17_is_silent_when_the_patient_used_opioids_in_the_window(
    evaluator: Evaluator,
) -> None:
    def fired(*history: Any) -> bool:
        situation = patient(history=history)
        evaluation = run(evaluator, facts(orders=[_patch()], patient_facts=situation))
        return "fentanyl-patch-opioid-naive" in evaluation.fired_rule_ids

    assert not fired(exposure(start_offset=-20, days=14))  # ended 7 days ago
    assert fired(exposure(start_offset=-45, days=14))  # ended 32 days ago
    methadone = exposure(
        "MedicationDispense/aa",
        source=ExposureSource.MEDICATION_DISPENSE,
        substances=("methadone",),
        start_offset=-200,
        days=1,
        indefinite=True,
        is_active=True,
        is_oat=True,
    )
    assert not fired(methadone)  # OAT counts: a patient on methadone is not opioid-naive
    # A short-acting (nasal) fentanyl order is no patch.
    nasal = order(
        medication=oxycodone_mga(
            substances=(SubstanceRef("fentanyl", "fentanyl", "fentanyl", None),),
            release_type=ReleaseType.SHORT_ACTING,
        ),
        route="nasal",
    )
    assert "fentanyl-patch-opioid-naive" not in run(evaluator, facts(orders=[nasal])).fired_rule_ids


def test_through_the_api_rule_17_fires_on_both_order_hooks(api: TestClient) -> None:
    assert "fentanyl-patch-opioid-naive" in _cards(api, "fentanyl-patch")  # order-select
    signed = _cards(api, "fentanyl-patch-opioid-naive")
    assert "fentanyl-patch-opioid-naive" in signed and "chronic-use" not in signed
    assert "fentanyl-patch-opioid-naive" not in _cards(api, "fentanyl-patch-on-opioids")


# --------------------------------------------------------------------------- antitussive codeine


def test_antitussive_codeine_is_out_of_every_agreement_rule_but_not_the_safety_rules(
    evaluator: Evaluator, catalogue: Catalogue
) -> None:
    codeine = _short_acting(catalogue, "codeine", "CODEINE TABLET 10MG")
    for_cough = replace(
        codeine,
        indication_sets=frozenset({"cough"}),
        total_covered_days=14,
        duration_days=14,
        repeats_allowed=1,
        as_needed=True,
    )
    new_user = patient(history=(), opioid_days_new_user_window=0, pregnant=True)
    evaluation = run(evaluator, facts(orders=[for_cough], patient_facts=new_user))
    assert not AGREEMENT_RULES & set(evaluation.fired_rule_ids), evaluation.fired_rule_ids
    assert "pregnancy" in evaluation.fired_rule_ids
    # The same codeine for pain is judged by the agreements.
    for_pain = replace(for_cough, indication_sets=frozenset())
    judged = run(evaluator, facts(orders=[for_pain], patient_facts=new_user))
    assert {"short-acting-opioid", "gp-duration-limit", "new-user-education"} <= set(
        judged.fired_rule_ids
    )


def test_through_the_api_antitussive_codeine_gets_only_the_safety_card(api: TestClient) -> None:
    assert set(_cards(api, "antitussive-codeine")) == {"pregnancy"}
