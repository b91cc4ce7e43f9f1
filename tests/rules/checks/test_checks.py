"""The engine and the rules on typed facts: what fires, what the GP sees on the card."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.servicerequest import ServiceRequest

from rules.engine import Evaluator
from rules.facts import (
    ActiveMedication,
    DurationSource,
    OpioidStrength,
    PrescriberRole,
    RecognisedBy,
    ReleaseType,
    SurgicalProcedure,
)
from rules.rulesets import RuleSet
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

AGREEMENT_RULES = {
    "short-acting-opioid",
    "dosing-frequency",
    "gp-duration-limit",
    "follow-up-without-consult",
    "repeat-prescription",
    "bony-musculoskeletal-pain",
    "missing-indication-or-duration",
    "specialist-ownership",
    "chronic-use",
    "new-user-education",
    "early-refill",
}


def short_acting() -> Any:
    return oxycodone_mga(
        release_type=ReleaseType.SHORT_ACTING,
        product_display="OXYCODON TABLET 10MG",
        release_type_basis="gstandaard PRK 102059",
    )


def test_the_common_path_fires_nothing(evaluator: Evaluator) -> None:
    evaluation = run(evaluator, facts())
    assert evaluation.fired_rule_ids == []
    assert evaluation.cards == []


def test_a_short_acting_opioid_card_carries_everything_rules_md_asks(
    evaluator: Evaluator, ruleset: RuleSet
) -> None:
    evaluation = run(evaluator, facts(orders=[order(medication=short_acting())]))
    assert evaluation.fired_rule_ids == ["short-acting-opioid"]
    card = card_for(evaluation, "short-acting-opioid")
    assert card.indicator == "warning"
    assert len(card.summary) < 140
    assert "Kortwerkend" in card.summary
    assert card.detail is not None
    assert "OXYCODON TABLET 10MG" in card.detail  # names the order
    assert "MedicationRequest/draft-1" in card.detail
    assert "apotheek belt" in card.detail  # agreement cards say the pharmacy calls
    assert card.source.url == "https://huisartseneemland.nl/zorg/regionale-zorgprojecten/opioiden/"
    assert "2025.1" in card.source.label
    assert card.source.topic is not None
    assert card.source.topic.system == "urn:opioid-cds:rule"
    assert card.source.topic.display == "Kortwerkend opioïd"
    assert {reason.code for reason in card.override_reasons} >= {"palliative-care", "other"}
    assert all(reason.display for reason in card.override_reasons)
    assert card.links and card.links[0].type == "absolute"
    explained = explanation(card)
    assert explained["rule_id"] == "short-acting-opioid"
    assert explained["ruleset"] == {"id": ruleset.id, "version": ruleset.version}
    assert explained["order_ids"] == ["MedicationRequest/draft-1"]
    assert explained["facts"]["orders"][0]["release_type"] == "short-acting"
    # the wire form is valid CDS Hooks JSON
    wire = card.to_json_dict()
    assert wire["uuid"] and wire["source"]["topic"]["code"] == "short-acting-opioid"


def test_cards_are_english_when_asked(evaluator: Evaluator) -> None:
    evaluation = run(evaluator, facts(orders=[order(medication=short_acting())]), language="en")
    card = card_for(evaluation, "short-acting-opioid")
    assert card.summary.startswith("Short-acting opioid")
    assert card.detail is not None and "pharmacy calls" in card.detail
    # the topic display stays the Dutch title, so EHRs can key on one value
    assert card.source.topic is not None and card.source.topic.display == "Kortwerkend opioïd"


def test_a_rule_fires_once_and_names_every_order_concerned(evaluator: Evaluator) -> None:
    orders = [
        order("MedicationRequest/a", medication=short_acting()),
        order("MedicationRequest/b", medication=short_acting()),
        order("MedicationRequest/c"),
    ]
    evaluation = run(evaluator, facts(orders=orders))
    assert evaluation.fired_rule_ids.count("short-acting-opioid") == 1
    card = card_for(evaluation, "short-acting-opioid")
    assert explanation(card)["order_ids"] == ["MedicationRequest/a", "MedicationRequest/b"]
    assert card.detail is not None and "`MedicationRequest/c`" not in card.detail


def test_order_select_judges_only_the_selected_orders(evaluator: Evaluator) -> None:
    orders = [
        order("MedicationRequest/selected"),
        order("MedicationRequest/other", medication=short_acting(), selected=False),
    ]
    evaluation = run(evaluator, facts("order-select", orders=orders))
    assert "short-acting-opioid" not in evaluation.fired_rule_ids


def test_dosing_frequency_as_needed_is_a_warning_other_frequencies_info(
    evaluator: Evaluator,
) -> None:
    as_needed = run(evaluator, facts(orders=[order(as_needed=True)]))
    card = card_for(as_needed, "dosing-frequency")
    assert card.indicator == "warning"
    assert "zo nodig" in card.summary

    once_daily = run(evaluator, facts(orders=[order(doses_per_day=1)]))
    card = card_for(once_daily, "dosing-frequency")
    assert card.indicator == "info"
    assert "1× per dag" in card.summary

    patch = run(
        evaluator,
        facts(
            orders=[
                order(
                    medication=oxycodone_mga(is_patch=True),
                    route="transdermal",
                    doses_per_day=1 / 3,
                )
            ]
        ),
    )
    assert "dosing-frequency" not in patch.fired_rule_ids


def test_no_rule_fires_on_an_unknown_release_type(evaluator: Evaluator) -> None:
    unknown = oxycodone_mga(release_type=ReleaseType.UNKNOWN)
    evaluation = run(evaluator, facts(orders=[order(medication=unknown, as_needed=True)]))
    assert "short-acting-opioid" not in evaluation.fired_rule_ids
    assert "dosing-frequency" not in evaluation.fired_rule_ids


def test_gp_duration_limit_suggests_an_update_to_seven_days(evaluator: Evaluator) -> None:
    long_order = order(total_covered_days=14, duration_days=14)
    evaluation = run(evaluator, facts(orders=[long_order]), drafts=[draft()])
    card = card_for(evaluation, "gp-duration-limit")
    assert "14 dagen" in card.summary and "7 dagen" in card.summary
    # Limit it, or keep it with a reason on the prescription: one of them.
    assert card.selection_behavior == "at-most-one"
    [suggestion] = [s for s in card.suggestions if s.is_recommended]
    [action] = suggestion.actions
    assert action.type == "update"
    assert action.resource is not None
    MedicationRequest.model_validate(action.resource)
    assert action.resource["dispenseRequest"]["expectedSupplyDuration"]["value"] == 7
    assert action.resource["dispenseRequest"]["quantity"]["value"] == 14  # 2 a day x 7 days
    period = action.resource["extension"][0]["valuePeriod"]
    assert period == {"start": TODAY.isoformat(), "end": (TODAY + timedelta(days=6)).isoformat()}


def test_gp_duration_limit_counts_repeats_and_indefinite_use(evaluator: Evaluator) -> None:
    with_repeats = order(duration_days=5, repeats_allowed=1, total_covered_days=10)
    assert "gp-duration-limit" in run(evaluator, facts(orders=[with_repeats])).fired_rule_ids
    indefinite = order(duration_indefinite=True, total_covered_days=None, duration_days=None)
    evaluation = run(evaluator, facts(orders=[indefinite]))
    assert "onbepaalde tijd" in card_for(evaluation, "gp-duration-limit").summary
    specialist = order(total_covered_days=14, prescriber_role=PrescriberRole.SPECIALIST)
    assert "gp-duration-limit" not in run(evaluator, facts(orders=[specialist])).fired_rule_ids


def test_a_practice_overlay_with_max_days_5_changes_only_that_practice(
    evaluator: Evaluator,
) -> None:
    six_days_voorbeeldhof = order(total_covered_days=6, organisation_agb="01999002")
    six_days_elsewhere = order(total_covered_days=6, organisation_agb="01999010")
    six_days_unknown = order(total_covered_days=6, organisation_agb=None)

    at_practice = run(evaluator, facts(orders=[six_days_voorbeeldhof]))
    card = card_for(at_practice, "gp-duration-limit")
    assert "maximaal 5 dagen" in card.summary
    assert explanation(card)["practice_overlay"] == "01999002"
    assert explanation(card)["facts"]["max_days"] == 5

    assert (
        "gp-duration-limit" not in run(evaluator, facts(orders=[six_days_elsewhere])).fired_rule_ids
    )
    assert (
        "gp-duration-limit" not in run(evaluator, facts(orders=[six_days_unknown])).fired_rule_ids
    )


def test_follow_up_without_consult_gives_both_dates(evaluator: Evaluator) -> None:
    prior = exposure("MedicationRequest/prior", start_offset=-8, days=5)
    consult_day = TODAY - timedelta(days=8)
    situation = patient(
        history=(prior,),
        last_prior_prescription=prior,
        physical_consult_dates=(consult_day,),
        last_physical_consult=consult_day,
        current_encounter_physical=False,
        prior_opioid_days=5,
    )
    evaluation = run(evaluator, facts(patient_facts=situation))
    card = card_for(evaluation, "follow-up-without-consult")
    assert consult_day.strftime("%d-%m-%Y") in card.summary
    assert card.detail is not None and "Laatste fysieke consult" in card.detail
    assert explanation(card)["facts"]["last_physical_consult"] == consult_day.isoformat()

    seen_today = patient(
        history=(prior,), last_prior_prescription=prior, current_encounter_physical=True
    )
    assert (
        "follow-up-without-consult"
        not in run(evaluator, facts(patient_facts=seen_today)).fired_rule_ids
    )


def test_repeats_get_a_suggestion_to_remove_them(evaluator: Evaluator) -> None:
    evaluation = run(
        evaluator,
        facts(orders=[order(repeats_allowed=2, total_covered_days=15)]),
        drafts=[draft(dispenseRequest={"numberOfRepeatsAllowed": 2})],
    )
    card = card_for(evaluation, "repeat-prescription")
    [suggestion] = [s for s in card.suggestions if s.is_recommended]
    assert suggestion.actions[0].resource is not None
    assert suggestion.actions[0].resource["dispenseRequest"]["numberOfRepeatsAllowed"] == 0
    MedicationRequest.model_validate(suggestion.actions[0].resource)


def test_bony_pain_only_for_strong_opioids_and_not_for_fractures(evaluator: Evaluator) -> None:
    back_pain = order(indication_sets=frozenset({"bony_musculoskeletal_pain"}))
    assert "bony-musculoskeletal-pain" in run(evaluator, facts(orders=[back_pain])).fired_rule_ids
    weak = order(
        indication_sets=frozenset({"bony_musculoskeletal_pain"}),
        medication=oxycodone_mga(strength=OpioidStrength.WEAK),
    )
    assert "bony-musculoskeletal-pain" not in run(evaluator, facts(orders=[weak])).fired_rule_ids
    fracture = order(indication_sets=frozenset({"bony_musculoskeletal_pain", "fracture"}))
    assert (
        "bony-musculoskeletal-pain" not in run(evaluator, facts(orders=[fracture])).fired_rule_ids
    )


def test_missing_indication_and_duration(evaluator: Evaluator) -> None:
    no_reason = order(has_indication=False, indication_codes=())
    card = card_for(run(evaluator, facts(orders=[no_reason])), "missing-indication-or-duration")
    assert card.indicator == "info"
    assert card.summary == "Vermeld de indicatie op het opioïdrecept"
    no_duration = order(
        duration_source=DurationSource.NONE, duration_days=None, total_covered_days=None
    )
    card = card_for(run(evaluator, facts(orders=[no_duration])), "missing-indication-or-duration")
    assert "gebruiksduur" in card.summary


def test_specialist_ownership_mentions_surgery_and_suggests_referral_back(
    evaluator: Evaluator,
) -> None:
    prior = exposure(
        "MedicationRequest/surgeon",
        start_offset=-20,
        days=14,
        prescriber_role=PrescriberRole.SPECIALIST,
        prescriber_id="PractitionerRole/role-surgeon-visser",
    )
    surgery = SurgicalProcedure(
        ref="Procedure/tkp", performed_on=TODAY - timedelta(days=21), code=None, display=None
    )
    situation = patient(
        history=(prior,), last_prior_prescription=prior, surgical_procedures=(surgery,)
    )
    card = card_for(run(evaluator, facts(patient_facts=situation)), "specialist-ownership")
    assert card.detail is not None and "operatie" in card.detail
    [suggestion] = card.suggestions
    resource = suggestion.actions[0].resource
    assert resource is not None
    ServiceRequest.model_validate(resource)
    assert resource["performer"] == [{"reference": "PractitionerRole/role-surgeon-visser"}]

    handed_over = patient(
        history=(prior,), last_prior_prescription=prior._replace(has_handover=True)
    )
    assert (
        "specialist-ownership"
        not in run(evaluator, facts(patient_facts=handed_over)).fired_rule_ids
    )


def _chronic_patient(postcode: str = "3811") -> Any:
    history = tuple(
        exposure(f"MedicationRequest/c{n}", start_offset=-84 + 14 * n, days=14) for n in range(6)
    )
    return patient(
        history=history,
        last_prior_prescription=history[-1],
        postcode=postcode,
        prior_opioid_days=84,
    )


def _route_names(card: Any) -> list[str]:
    return [
        action.resource["performer"][0]["display"] for s in card.suggestions for action in s.actions
    ]


def test_chronic_use_offers_the_three_routes_that_fit_a_patient_without_addiction(
    evaluator: Evaluator,
) -> None:
    card = card_for(run(evaluator, facts(patient_facts=_chronic_patient())), "chronic-use")
    assert "eerder 84 dagen + dit recept 5 dagen" in card.summary
    assert card.selection_behavior == "any"
    labels = [suggestion.label for suggestion in card.suggestions]
    assert any("Consultatieteam GGZ" in label and "ZorgDomein" in label for label in labels)
    assert _route_names(card) == [
        "POH-GGZ",
        "Consultatieteam GGZ, verslavingsarts Jellinek",
        "Psychosomatisch fysiotherapeut",
    ]
    for suggestion in card.suggestions:
        [action] = suggestion.actions
        assert action.type == "create" and action.resource is not None
        ServiceRequest.model_validate(action.resource)
        assert action.resource["subject"] == {"reference": "Patient/pat-0001"}
    # The rest is on the expertise map of the regional page, which the card links.
    assert "https://huisartseneemland.nl/zorg/regionale-zorgprojecten/opioiden/" in [
        link.url for link in card.links
    ]
    assert "verslavingszorg" in explanation(card)["notes"]["referrals_not_shown"]
    assert explanation(card)["facts"]["prior_opioid_days"] == 84


def test_with_an_opioid_use_disorder_addiction_care_comes_first(evaluator: Evaluator) -> None:
    addicted = replace(_chronic_patient(), condition_sets=frozenset({"opioid_use_disorder"}))
    card = card_for(run(evaluator, facts(patient_facts=addicted)), "chronic-use")
    assert _route_names(card)[0].startswith("Gespecialiseerde verslavingszorg")
    assert len(card.suggestions) == 3
    assert explanation(card)["facts"]["opioid_use_disorder"] is True


def test_barneveld_gets_the_zorgprogrammacoordinator_instead_of_addiction_care(
    evaluator: Evaluator,
) -> None:
    addicted = replace(
        _chronic_patient(postcode="3771"), condition_sets=frozenset({"opioid_use_disorder"})
    )
    card = card_for(run(evaluator, facts(patient_facts=addicted)), "chronic-use")
    names = _route_names(card)
    assert names[0] == "Zorgprogrammacoördinator GGZ van Huisartsen Eemland"
    assert not any(name.startswith("Gespecialiseerde verslavingszorg") for name in names)
    assert explanation(card)["notes"]["postcode_route"] == "Barneveld"


def test_de_glind_belongs_to_barneveld_and_amersfoort_does_not(evaluator: Evaluator) -> None:
    def first_route(postcode: str) -> str:
        addicted = replace(
            _chronic_patient(postcode=postcode), condition_sets=frozenset({"opioid_use_disorder"})
        )
        return _route_names(card_for(run(evaluator, facts(patient_facts=addicted)), "chronic-use"))[
            0
        ]

    coordinator = "Zorgprogrammacoördinator GGZ van Huisartsen Eemland"
    assert first_route("3794 AB") == coordinator  # De Glind, gemeente Barneveld
    assert first_route("3925") == coordinator  # Scherpenzeel
    assert first_route("3811").startswith("Gespecialiseerde verslavingszorg")  # Amersfoort


def test_addiction_care_is_not_suggested_to_a_patient_it_already_treats(
    evaluator: Evaluator,
) -> None:
    methadone = exposure("MedicationRequest/oat", start_offset=-60, days=60, is_oat=True)
    on_oat = replace(
        _chronic_patient(postcode="3771"),
        condition_sets=frozenset({"opioid_use_disorder"}),
    )
    on_oat = replace(on_oat, history=(*on_oat.history, methadone))
    card = card_for(run(evaluator, facts(patient_facts=on_oat)), "chronic-use")
    names = _route_names(card)
    assert len(names) == 3
    assert not any("verslavingszorg" in name.lower() for name in names)
    assert "Zorgprogrammacoördinator GGZ van Huisartsen Eemland" not in names
    assert explanation(card)["facts"]["on_oat"] is True


def test_new_user_gets_education_with_the_apotheek_page_of_the_substance(
    evaluator: Evaluator,
) -> None:
    new_user = patient(history=(), opioid_days_new_user_window=0)
    card = card_for(run(evaluator, facts(patient_facts=new_user)), "new-user-education")
    urls = [link.url for link in card.links]
    assert "https://www.apotheek.nl/medicijnen/oxycodon" in urls
    assert "https://youtu.be/Iht6S4oRt_I" in urls
    assert card.detail is not None and "autorijden" in card.detail


def test_early_refill_compares_the_same_substance(evaluator: Evaluator) -> None:
    nine_days = TODAY + timedelta(days=9)
    supply_left = patient(latest_supply_end={("oxycodone", ReleaseType.LONG_ACTING): nine_days})
    card = card_for(run(evaluator, facts(patient_facts=supply_left)), "early-refill")
    assert f"strekt nog tot {nine_days:%d-%m-%Y}" in card.summary
    other_substance = patient(latest_supply_end={("tramadol", ReleaseType.LONG_ACTING): nine_days})
    assert "early-refill" not in run(evaluator, facts(patient_facts=other_substance)).fired_rule_ids


def test_palliative_care_silences_the_agreements_but_not_the_safety_rules(
    evaluator: Evaluator,
) -> None:
    situation = patient(condition_sets=frozenset({"palliative_or_cancer"}), pregnant=True)
    evaluation = run(
        evaluator,
        facts(
            orders=[order(medication=short_acting(), total_covered_days=14)],
            patient_facts=situation,
        ),
    )
    assert not AGREEMENT_RULES & set(evaluation.fired_rule_ids)
    assert "pregnancy" in evaluation.fired_rule_ids
    assert evaluation.skipped_rule_ids["short-acting-opioid"] == "palliative care or cancer"

    cancer_pain = order(
        medication=short_acting(), indication_sets=frozenset({"palliative_or_cancer"})
    )
    assert "short-acting-opioid" not in run(evaluator, facts(orders=[cancer_pain])).fired_rule_ids


def test_oat_orders_are_out_of_the_pain_rules_but_count_for_sedatives(
    evaluator: Evaluator,
) -> None:
    methadone = order(is_oat=True, total_covered_days=14, medication=short_acting())
    oxazepam = ActiveMedication(
        ref="MedicationRequest/oxazepam",
        display="OXAZEPAM TABLET 10MG",
        sedative_class="benzodiazepine",
        substances=("oxazepam",),
        is_draft=False,
        selected=False,
    )
    situation = patient(
        active_sedatives=(oxazepam,), condition_sets=frozenset({"opioid_use_disorder"})
    )
    evaluation = run(evaluator, facts(orders=[methadone], patient_facts=situation))
    assert not AGREEMENT_RULES & set(evaluation.fired_rule_ids)
    assert "opioid-use-disorder" not in evaluation.fired_rule_ids
    card = card_for(evaluation, "opioid-sedative-combination")
    assert card.indicator == "critical"  # opioid use disorder on record
    assert "OXAZEPAM" in card.summary
    # ... and the card says why it is critical.
    assert card.detail is not None and "**Kritiek:** er is een **opioïdgebruiksstoornis**" in (
        card.detail
    )


def test_opioid_use_disorder_suggests_naloxone_and_addiction_care(evaluator: Evaluator) -> None:
    situation = patient(condition_sets=frozenset({"opioid_use_disorder"}))
    card = card_for(run(evaluator, facts(patient_facts=situation)), "opioid-use-disorder")
    naloxone, *referrals = card.suggestions
    resource = naloxone.actions[0].resource
    assert resource is not None
    MedicationRequest.model_validate(resource)
    assert resource["medicationCodeableConcept"]["coding"][0]["code"] == "V03AB15"
    assert naloxone.is_recommended
    assert any("Consultatieteam GGZ" in r.label for r in referrals)


def test_high_daily_dose_states_the_ome_and_what_was_not_converted(evaluator: Evaluator) -> None:
    situation = patient(total_ome_mg_per_day=120.0, ome_unconverted=("METHADON DRANK",))
    card = card_for(run(evaluator, facts(patient_facts=situation)), "high-daily-dose")
    assert "120 mg OME" in card.summary
    assert card.detail is not None and "METHADON DRANK" in card.detail


def test_missing_data_switches_off_only_rules_it_would_make_fire_wrongly(
    evaluator: Evaluator,
) -> None:
    # Without Encounters "no physical consult since" cannot be concluded: rule 4 does not run.
    chronic = _chronic_patient()
    no_consult_known = replace(
        chronic,
        physical_consult_dates=(),
        last_physical_consult=None,
        current_encounter_physical=None,
    )
    evaluation = run(
        evaluator,
        facts(orders=[order(medication=short_acting())], patient_facts=no_consult_known),
        missing=frozenset({"encounters"}),
    )
    assert "follow-up-without-consult" not in evaluation.fired_rule_ids
    assert evaluation.skipped_rule_ids["follow-up-without-consult"] == ("missing data: encounters")
    # Rules that fire on what is there still do, and their cards name what was missing.
    card = card_for(evaluation, "chronic-use")
    assert explanation(card)["missing_data"] == ["encounters"]
    assert explanation(card_for(evaluation, "short-acting-opioid"))["missing_data"] == [
        "encounters"
    ]
    # Without dispenses a patient can look like a new user who is not one: rule 10 is off.
    new_user = patient(history=(), opioid_days_new_user_window=0)
    evaluation = run(
        evaluator, facts(patient_facts=new_user), missing=frozenset({"medicationDispenses"})
    )
    assert "new-user-education" not in evaluation.fired_rule_ids


def test_patient_view_reviews_a_chronic_user_with_the_standard_email(evaluator: Evaluator) -> None:
    evaluation = run(evaluator, facts("patient-view", orders=[], patient_facts=_chronic_patient()))
    assert evaluation.fired_rule_ids == ["chronic-user-review"]
    card = card_for(evaluation, "chronic-user-review")
    assert card.indicator == "info"
    assert card.detail is not None
    assert "langer dan 4 weken pijnmedicatie" in card.detail
    assert card.suggestions  # referral routes


def test_summaries_stay_under_140_characters_in_both_languages(
    evaluator: Evaluator, ruleset: RuleSet
) -> None:
    situation = patient(
        condition_sets=frozenset({"opioid_use_disorder"}),
        pregnant=True,
        total_ome_mg_per_day=400.0,
        prescribers_in_lookback=frozenset({"a", "b", "c"}),
    )
    busy = order(
        medication=short_acting(), total_covered_days=140, repeats_allowed=9, has_indication=False
    )
    for language in ("nl", "en"):
        evaluation = run(
            evaluator, facts(orders=[busy], patient_facts=situation), language=language
        )
        assert len(evaluation.cards) >= 5
        for card in evaluation.cards:
            assert len(card.summary) < 140
            assert card.extension is not None
    assert ruleset  # the fixture is the loaded Eemland set


def test_a_text_only_medication_is_marked_not_coded_in_the_explanation(
    evaluator: Evaluator,
) -> None:
    text_only = order(
        medication=replace(short_acting(), coded=False, recognised_by=RecognisedBy.TEXT, codes=())
    )
    card = card_for(run(evaluator, facts(orders=[text_only])), "short-acting-opioid")
    assert explanation(card)["medications"] == [
        {
            "order_id": "MedicationRequest/draft-1",
            "product": "OXYCODON TABLET 10MG",
            "recognised_by": "text",
            "coded": False,
        }
    ]


def test_a_selected_sedative_with_an_unselected_drafted_opioid_fires_the_reverse(
    evaluator: Evaluator,
) -> None:
    temazepam = order(
        "MedicationRequest/temazepam",
        medication=oxycodone_mga(
            is_opioid=False,
            substances=(),
            product_display="temazepam 20 MG",
            sedative_class="benzodiazepine",
        ),
    )
    unselected_opioid = order(selected=False)
    drafted = ActiveMedication(
        ref="MedicationRequest/temazepam",
        display="temazepam 20 MG",
        sedative_class="benzodiazepine",
        substances=("temazepam",),
        is_draft=True,
        selected=True,
    )
    situation = patient(active_sedatives=(drafted,))
    both = facts("order-select", orders=[temazepam, unselected_opioid], patient_facts=situation)
    card = card_for(run(evaluator, both), "opioid-sedative-combination")
    assert "MedicationRequest/temazepam" in (card.detail or "")
    assert "MedicationRequest/draft-1" not in (card.detail or "")  # the opioid is not selected
    assert explanation(card)["facts"]["drafted_sedative"] is True
    alone = facts("order-select", orders=[temazepam], patient_facts=situation)
    assert "opioid-sedative-combination" not in run(evaluator, alone).fired_rule_ids


def test_chronic_use_on_an_indefinite_order_does_not_invent_a_day_count(
    evaluator: Evaluator,
) -> None:
    # Chronic use needs earlier use; the order counts as 29 days, so 84 + 29 = 113 is a bound.
    indefinite = order(duration_days=None, duration_indefinite=True, total_covered_days=None)
    chronic = facts(orders=[indefinite], patient_facts=_chronic_patient())
    card = card_for(run(evaluator, chronic), "chronic-use")
    assert "onbepaalde tijd" in card.summary and "eerder 84 dagen" in card.summary
    assert card.detail is not None and "113" not in card.detail and "113" not in card.summary
    assert "29" not in card.detail and "29" not in card.summary
    # No total is sent (a card carries no nulls); the threshold it was judged against is.
    assert "total_opioid_days" not in explanation(card)["facts"]
    assert explanation(card)["facts"]["threshold_days"] == 28
    english = card_for(run(evaluator, chronic, language="en"), "chronic-use")
    assert "indefinite" in english.summary
    # A known duration keeps the day count.
    counted = card_for(run(evaluator, facts(patient_facts=_chronic_patient())), "chronic-use")
    assert "eerder 84 dagen + dit recept 5 dagen" in counted.summary
