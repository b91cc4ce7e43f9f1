"""The card texts a Dutch GP and a community pharmacist reviewed, as the GP reads them now,
in Dutch and in English."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rules.engine import Evaluator
from rules.facts import (
    ExposureSource,
    Facts,
    OmeContribution,
    OpioidExposure,
    PatientFacts,
    Problem,
    ProblemReason,
)
from rules.language import Language
from tests.rules.conftest import card_for, exposure, facts, order, patient, run


def _chronic_patient() -> PatientFacts:
    history = tuple(
        exposure(f"MedicationRequest/c{n}", start_offset=-84 + 14 * n, days=14) for n in range(6)
    )
    return patient(history=history, last_prior_prescription=history[-1])


@pytest.mark.parametrize(
    ("language", "summary", "detail"),
    [
        (
            "nl",
            "Chronisch opioïdgebruik: eerder 84 dagen + dit recept voor meer dan een jaar",
            "Dit recept is voor **meer dan een jaar**: ",
        ),
        (
            "en",
            "Chronic opioid use: earlier 84 days + this order for more than a year",
            "This order is for **more than a year**: ",
        ),
    ],
)
def test_chronic_use_with_an_order_over_a_year_says_for_and_only_once(
    evaluator: Evaluator, language: Language, summary: str, detail: str
) -> None:
    long = order(duration_days=400, total_covered_days=400)
    the_facts = facts(orders=[long], patient_facts=_chronic_patient())
    card = card_for(run(evaluator, the_facts, language=language), "chronic-use")
    assert card.summary == summary
    assert card.detail is not None and card.detail.startswith(detail)
    assert "28 dagen)" not in card.summary and "28 days)" not in card.summary


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("nl", "opioïd-geïnduceerde hyperalgesie (OIH)"),
        ("en", "opioid-induced hyperalgesia (OIH)"),
    ],
)
def test_chronic_use_names_opioid_induced_hyperalgesia(
    evaluator: Evaluator, language: Language, words: str
) -> None:
    the_facts = facts(orders=[order()], patient_facts=_chronic_patient())
    card = card_for(run(evaluator, the_facts, language=language), "chronic-use")
    assert card.detail is not None and words in card.detail
    assert "opiaat" not in card.detail


@pytest.mark.parametrize(
    ("language", "summary", "detail"),
    [
        (
            "nl",
            "Opioïden in 90 dagen van 3 voorschrijvers (apotheek onbekend)",
            "Verstrekkingen zijn in dit dossier niet bekend.",
        ),
        (
            "en",
            "Opioids from 3 prescribers in 90 days (pharmacy unknown)",
            "No dispensings are known in this record.",
        ),
    ],
)
def test_multiple_prescribers_without_dispensing_claims_no_unknown_pharmacy(
    evaluator: Evaluator, language: Language, summary: str, detail: str
) -> None:
    # Two in the history and the GP of this order.
    three = patient(prescribers_in_lookback=frozenset({"a", "b"}))
    card = card_for(
        run(evaluator, facts(patient_facts=three), language=language), "multiple-prescribers"
    )
    assert card.summary == summary
    assert card.detail is not None and detail in card.detail
    assert "onbekende apotheek" not in card.detail and "unknown pharmacy" not in card.detail
    assert "verstrekt door" not in card.detail


def test_multiple_prescribers_with_known_pharmacies_still_counts_them(evaluator: Evaluator) -> None:
    known = patient(
        prescribers_in_lookback=frozenset({"a", "b"}), pharmacies_in_lookback=frozenset({"p"})
    )
    card = card_for(run(evaluator, facts(patient_facts=known)), "multiple-prescribers")
    assert card.summary == "Opioïden in 90 dagen: 3 voorschrijvers, 1 apotheek"


def _pump_running() -> OpioidExposure:
    return exposure(
        "MedicationRequest/pump",
        start_offset=-3,
        days=10,
        product_display="MORFINE INFVLST 5MG/ML CAS 100ML",
        substances=("morphine",),
        is_active=True,
        ome_mg_per_day=180,
    )


@pytest.mark.parametrize(
    ("language", "summary", "counted"),
    [
        (
            "nl",
            "Totale opioïddosis 210 mg OME per dag (grens 90 mg)",
            [
                "**Meegeteld:**",
                "- OXYCODON TABLET MGA 10MG, 2× per dag (dit recept): 30 mg OME",
                "- MORFINE INFVLST 5MG/ML CAS 100ML (loopt tot {end}): 180 mg OME",
            ],
        ),
        (
            "en",
            "Total opioid dose 210 mg OME a day (threshold 90 mg)",
            [
                "**Counted:**",
                "- OXYCODON TABLET MGA 10MG, 2 times a day (this order): 30 mg OME",
                "- MORFINE INFVLST 5MG/ML CAS 100ML (runs until {end}): 180 mg OME",
            ],
        ),
    ],
)
def test_high_daily_dose_lists_what_it_counted_the_running_pump_too(
    evaluator: Evaluator, language: Language, summary: str, counted: list[str]
) -> None:
    pump = _pump_running()
    contributions = (
        OmeContribution("MedicationRequest/draft-1", "OXYCODON TABLET MGA 10MG", 30, None, True),
        OmeContribution(pump.ref, pump.product_display, 180, None, False),
    )
    both = patient(history=(pump,), total_ome_mg_per_day=210, ome_contributions=contributions)
    card = card_for(run(evaluator, facts(patient_facts=both), language=language), "high-daily-dose")
    assert pump.end is not None
    end = pump.end.strftime("%d-%m-%Y") if language == "nl" else pump.end.isoformat()
    assert card.summary == summary
    assert card.detail is not None
    assert "\n".join(counted).format(end=end) in card.detail


@pytest.mark.parametrize(
    ("language", "summary", "left_out"),
    [
        (
            "nl",
            "Opioïddosis minstens 120 mg OME per dag (grens 90 mg)",
            "Niet omgerekend (niet meegeteld): OXYCODON TABLET MGA 10MG, 2× per dag (2e recept).",
        ),
        (
            "en",
            "Opioid dose at least 120 mg OME a day (threshold 90 mg)",
            "Not converted (not counted): OXYCODON TABLET MGA 10MG, 2 times a day (order 2).",
        ),
    ],
)
def test_high_daily_dose_with_an_opioid_left_out_is_at_least_and_names_that_order(
    evaluator: Evaluator, language: Language, summary: str, left_out: str
) -> None:
    first = order("MedicationRequest/draft-1", ome_mg_per_day=120)
    second = order("MedicationRequest/draft-2", ome_mg_per_day=None)
    contributions = (
        OmeContribution(first.order_id, first.product_display, 120, None, True),
        OmeContribution(second.order_id, second.product_display, None, "dose unknown", True),
    )
    short = patient(
        total_ome_mg_per_day=120,
        ome_contributions=contributions,
        ome_unconverted=("OXYCODON TABLET MGA 10MG",),
    )
    evaluation = run(
        evaluator, facts(orders=[first, second], patient_facts=short), language=language
    )
    card = card_for(evaluation, "high-daily-dose")
    assert card.summary == summary
    assert card.detail is not None and left_out in card.detail
    assert "Totale" not in card.detail and "Total " not in card.detail
    assert "(1e recept): 120 mg OME" in card.detail or "(order 1): 120 mg OME" in card.detail


def _with_problems(*problems: Problem, history: tuple[OpioidExposure, ...] = ()) -> Facts:
    return replace(facts(patient_facts=patient(history=history)), problems=problems)


@pytest.mark.parametrize(
    ("language", "lines", "summary"),
    [
        (
            "nl",
            [
                "- Verstrekking OXYCODON TABLET MGA 10MG van {on} (medicatiegeschiedenis):"
                " whenHandedOver: niet leesbaar — `MedicationDispense/md-1`",
                "- OXYCODON TABLET MGA 10MG (dit recept): omrekening naar OME:"
                " dosiseenheid niet om te rekenen — `MedicationRequest/draft-1`",
                "- OXYCODON TABLET MGA 10MG (dit recept): geneesmiddel niet gevonden"
                " — `MedicationRequest/draft-1`",
                "- Voorschrift (medicatiegeschiedenis): status: niet ingevuld"
                " — `MedicationRequest/h-2`",
                "- OXYCODON TABLET MGA 10MG (dit recept): reasonCode: a_new_code"
                " — `MedicationRequest/draft-1`",
            ],
            "Niet alles kon worden gecontroleerd (5 punten): controleer zelf",
        ),
        (
            "en",
            [
                "- Dispensing OXYCODON TABLET MGA 10MG of {on} (medication history):"
                " whenHandedOver: not readable — `MedicationDispense/md-1`",
                "- OXYCODON TABLET MGA 10MG (this order): conversion to OME:"
                " dose unit not convertible — `MedicationRequest/draft-1`",
                "- OXYCODON TABLET MGA 10MG (this order): medication not found"
                " — `MedicationRequest/draft-1`",
                "- Prescription (medication history): status: not stated — `MedicationRequest/h-2`",
                "- OXYCODON TABLET MGA 10MG (this order): reasonCode: a_new_code"
                " — `MedicationRequest/draft-1`",
            ],
            "Not everything could be checked (5 items): check it yourself",
        ),
    ],
)
def test_incomplete_check_says_why_in_the_gps_language_and_names_what_as_the_gp_knows_it(
    evaluator: Evaluator, language: Language, lines: list[str], summary: str
) -> None:
    dispensed = exposure(
        "MedicationDispense/md-1", start_offset=-10, source=ExposureSource.MEDICATION_DISPENSE
    )
    the_facts = _with_problems(
        Problem("whenHandedOver", ProblemReason.UNREADABLE, dispensed.ref),
        Problem("OME", ProblemReason.UNIT_NOT_CONVERTIBLE, "MedicationRequest/draft-1", "mg/kg"),
        Problem("medication", ProblemReason.NOT_RESOLVED, "MedicationRequest/draft-1"),
        Problem("status", ProblemReason.NOT_STATED, "MedicationRequest/h-2"),
        # A code the rule set has no words for yet is shown as it is: nothing is lost.
        Problem("reasonCode", "a_new_code", "MedicationRequest/draft-1"),
        history=(dispensed,),
    )
    card = card_for(run(evaluator, the_facts, language=language), "incomplete-check")
    assert dispensed.prescribed_on is not None
    on = (
        dispensed.prescribed_on.strftime("%d-%m-%Y")
        if language == "nl"
        else dispensed.prescribed_on.isoformat()
    )
    assert card.summary == summary
    assert card.detail is not None
    for line in lines:
        assert line.format(on=on) in card.detail
    for english in ("unreadable", "not_stated", "not understood", "not resolved"):
        assert english not in card.detail


@pytest.mark.parametrize(
    ("language", "summary"),
    [
        ("nl", "Niet alles kon worden gecontroleerd (1 punt): controleer zelf"),
        ("en", "Not everything could be checked (1 item): check it yourself"),
    ],
)
def test_incomplete_check_counts_one_item_in_words(
    evaluator: Evaluator, language: Language, summary: str
) -> None:
    the_facts = _with_problems(Problem("draft order", ProblemReason.UNREADABLE, "X/1", "KeyError"))
    card = card_for(run(evaluator, the_facts, language=language), "incomplete-check")
    assert card.summary == summary
    assert card.detail is not None and "KeyError" not in card.detail
