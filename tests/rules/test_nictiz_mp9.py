"""The public Nictiz MP9 3.0 test instances (tests/data/nictiz, source named in each file),
as history and as drafts, read as a Dutch pharmacist reads them (docs/mp9.md lists them).

Evaluated on the anchor day the instances were written around, next to a GP's drafted
oxycodon MGA 10 mg 2× a day for 5 days where they are history.
"""

from __future__ import annotations

import copy
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from cds_hooks.draft_orders import DraftOrders
from fhir_fixtures.builders import PERIOD_OF_USE, PRK, concept, dosage, med_request, qty
from rules.catalogue import Catalogue
from rules.engine import Evaluation, EvaluationInput, Evaluator
from rules.facts import PatientFacts
from rules.facts.medication import medication_input, recognise
from rules.fixtures import ANCHOR_DATE

DATA = Path(__file__).resolve().parents[1] / "data" / "nictiz"
TEMAZEPAM = "MBH300SCRIPT5"
OXAZEPAM = "MBH300QA6"
PUMP = "MBH300toedieningssnelheid"
CODEINE = "MBH300variabelehoeveelheidenmaximum"
STOP_TYPE = "http://nictiz.nl/fhir/StructureDefinition/ext-StopType"


def nictiz(name: str) -> dict[str, Any]:
    document = json.loads((DATA / f"{name}.json").read_text())
    assert document["source"]["repository"] == "Nictiz/Nictiz-testscripts"
    resource: dict[str, Any] = document["resource"]
    return resource


def block(kind: str, treatment: str, suffix: str) -> dict[str, Any]:
    """One building block: kind MedAgr, DspReq, AdmAgr, MedDsp or MedUse2."""
    return nictiz(f"mp-{kind}-mp9-{treatment}{suffix}-tmg")


PRODUCTS = [nictiz(path.stem) for path in sorted(DATA.glob("mp-PhPrd-*.json"))]


def oxycodon_draft() -> dict[str, Any]:
    return med_request(
        "draft-oxycodon",
        concept((PRK, "57614"), text="OXYCODON TABLET MGA 10MG"),
        status="draft",
        patient="p1",
        authored=None,
        dosages=[dosage(frequency=2, dose=qty(1, unit="stuk"))],
        extension=[
            {"url": PERIOD_OF_USE, "valuePeriod": {"start": "2026-11-01", "end": "2026-11-05"}}
        ],
    )


def evaluate(
    evaluator: Evaluator,
    history: list[dict[str, Any]],
    drafts: list[dict[str, Any]] | None = None,
    *,
    today: date = ANCHOR_DATE,
) -> Evaluation:
    return evaluator.evaluate(
        EvaluationInput(
            hook="order-sign",
            context={"patientId": "p1", "userId": "Practitioner/gp"},
            draft_orders=DraftOrders.from_resources(
                drafts if drafts is not None else [oxycodon_draft()]
            ),
            resources=[*history, *PRODUCTS],
            today=today,
        )
    )


def patient_of(evaluation: Evaluation) -> PatientFacts:
    assert evaluation.facts is not None
    return evaluation.facts.patient


# --- sedatives: each block alone makes the opioid + benzodiazepine warning fire ------------


@pytest.mark.parametrize(
    ("blocks", "sedative"),
    [
        # An agreement with status `unknown` whose period of use covers today.
        ([("MedAgr", TEMAZEPAM, "MA")], "MedicationRequest/mp-MedAgr-mp9-MBH300SCRIPT5MA-tmg"),
        # The pharmacy's administration agreement: use over its period.
        (
            [("AdmAgr", TEMAZEPAM, "TA")],
            "MedicationDispense/mp-AdmAgr-mp9-MBH300SCRIPT5TA-tmg",
        ),
        # A dispense without daysSupply: 6 capsules at the agreement's 1 a day.
        (
            [("MedDsp", TEMAZEPAM, "MVE"), ("DspReq", TEMAZEPAM, "VV")],
            "MedicationDispense/mp-MedDsp-mp9-MBH300SCRIPT5MVE-tmg",
        ),
        (
            [("MedUse2", OXAZEPAM, "MGB")],
            "MedicationStatement/mp-MedUse2-mp9-MBH300QA6MGB-tmg",
        ),
        # All blocks of one treatment: one sedative, named by its agreement.
        (
            [
                ("MedAgr", OXAZEPAM, "MA"),
                ("DspReq", OXAZEPAM, "VV"),
                ("AdmAgr", OXAZEPAM, "TA"),
                ("MedDsp", OXAZEPAM, "MVE"),
                ("MedUse2", OXAZEPAM, "MGB"),
            ],
            "MedicationRequest/mp-MedAgr-mp9-MBH300QA6MA-tmg",
        ),
    ],
)
def test_a_benzodiazepine_in_any_mp9_block_is_active(
    evaluator: Evaluator, blocks: list[tuple[str, str, str]], sedative: str
) -> None:
    evaluation = evaluate(evaluator, [block(*b) for b in blocks])
    assert [s.ref for s in patient_of(evaluation).active_sedatives if not s.is_draft] == [sedative]
    assert "opioid-sedative-combination" in evaluation.fired_rule_ids


@pytest.mark.parametrize("product", PRODUCTS, ids=[p["id"] for p in PRODUCTS])
def test_every_nictiz_product_is_known_by_its_code(
    catalogue: Catalogue, product: dict[str, Any]
) -> None:
    """The opioid and benzodiazepine products of the instances, by PRK, GPK or HPK: each is in
    the catalogue with the substance and strength its G-Standaard name gives."""
    facts = recognise(catalogue, medication_input(None, product, resolved=True))
    display = product["code"]["text"]
    assert facts.coded, display
    named = {"CODEINE": "codeine", "CODEINEFOSFAAT": "codeine", "MORFINE": "morphine",
             "TEMAZEPAM": "temazepam", "OXAZEPAM": "oxazepam"}  # fmt: skip
    assert [s.key for s in facts.substances] == [named[display.split()[0]]]


def test_a_dispense_lasts_its_quantity_at_the_agreements_dose(evaluator: Evaluator) -> None:
    """6 capsules handed over today at 1 a day: in use today up to day 6, not on day 7."""
    history = [block("MedDsp", TEMAZEPAM, "MVE"), block("MedAgr", TEMAZEPAM, "MA")]
    # Only the dispense would still run on day 5 (the agreement's 6 days end on day 4).
    day5 = evaluate(evaluator, history, today=ANCHOR_DATE + timedelta(days=5))
    assert "opioid-sedative-combination" in day5.fired_rule_ids
    day6 = evaluate(evaluator, history, today=ANCHOR_DATE + timedelta(days=6))
    assert "opioid-sedative-combination" not in day6.fired_rule_ids


def test_a_stop_agreement_ends_the_treatment_on_its_date(evaluator: Evaluator) -> None:
    """Temazepam from yesterday for 6 days, stopped on day 2 (adverse reaction)."""
    started = [block("MedAgr", TEMAZEPAM, "MA"), block("AdmAgr", TEMAZEPAM, "TA")]
    stopped = [*started, block("MedAgr", TEMAZEPAM, "MASTAKEN")]
    day3 = ANCHOR_DATE + timedelta(days=3)
    assert "opioid-sedative-combination" in evaluate(evaluator, started, today=day3).fired_rule_ids
    # Still taken up to the stop date, not after it.
    assert "opioid-sedative-combination" in evaluate(evaluator, stopped).fired_rule_ids
    assert (
        "opioid-sedative-combination" not in evaluate(evaluator, stopped, today=day3).fired_rule_ids
    )


def test_a_medication_use_stopped_ends_the_treatment_on_its_date(evaluator: Evaluator) -> None:
    """Oxazepam agreed up to tomorrow; the patient says they stopped it yesterday (MP9 puts
    the stop of a medication use in ext-StopType, as of an agreement): no longer in use."""
    stopped_use = copy.deepcopy(block("MedUse2", OXAZEPAM, "MGB"))
    stopped_use["effectivePeriod"]["end"] = (ANCHOR_DATE - timedelta(days=1)).isoformat()
    running = [block("MedAgr", OXAZEPAM, "MA"), stopped_use]
    assert "opioid-sedative-combination" in evaluate(evaluator, running).fired_rule_ids
    stopped_use["modifierExtension"] = block("MedAgr", TEMAZEPAM, "MASTAKEN")["modifierExtension"]
    stopped = evaluate(evaluator, running)
    assert "opioid-sedative-combination" not in stopped.fired_rule_ids
    assert "incomplete-check" not in stopped.fired_rule_ids


# --- opioids: administration agreements and medication use are opioid use ------------------


@pytest.mark.parametrize("treatment", [CODEINE, PUMP])
@pytest.mark.parametrize(
    ("kind", "suffix"), [("AdmAgr", "TA"), ("MedUse2", "MGB"), ("MedAgr", "MA")]
)
def test_opioid_use_in_any_block_is_no_new_user(
    evaluator: Evaluator, treatment: str, kind: str, suffix: str
) -> None:
    evaluation = evaluate(evaluator, [block(kind, treatment, suffix)])
    assert "new-user-education" not in evaluation.fired_rule_ids
    assert [e.is_active for e in patient_of(evaluation).history] == [True]


def test_the_running_morphine_pump_is_active_opioid_use_once(evaluator: Evaluator) -> None:
    """Agreement, administration agreement and use of one pump: one treatment, one entry in
    the daily dose. The rate 0.2–0.5 ml/h of 5 mg/ml counts at its upper end: 0.5 × 24 × 5 =
    60 mg parenteral morphine a day, × 3 (parenteral to oral) = 180 mg OME."""
    history = [
        block(kind, PUMP, suffix)
        for kind, suffix in (("MedAgr", "MA"), ("AdmAgr", "TA"), ("MedUse2", "MGB"))
    ]
    patient = patient_of(evaluate(evaluator, history))
    assert all(e.is_active for e in patient.history)
    pump = [c for c in patient.ome_contributions if not c.is_draft]
    assert [c.ref for c in pump] == [
        "MedicationRequest/mp-MedAgr-mp9-MBH300toedieningssnelheidMA-tmg"
    ]
    assert [c.ome_mg_per_day for c in pump] == [pytest.approx(180.0)]
    assert patient.ome_unconverted == ()


def test_a_dispense_request_is_part_of_its_agreement_not_a_prescription(
    evaluator: Evaluator,
) -> None:
    """The temazepam request for 6 capsules adds no sedative entry of its own, and an opioid
    dispense request next to its agreement adds no exposure."""
    alone = evaluate(evaluator, [block("DspReq", TEMAZEPAM, "VV")])
    assert patient_of(alone).active_sedatives == ()
    agreement = block("MedAgr", CODEINE, "MA")
    supply = copy.deepcopy(block("DspReq", OXAZEPAM, "VV"))
    supply["id"] = "codeine-vv"
    supply["extension"] = [
        e for e in agreement["extension"] if "PharmaceuticalTreatment" in e["url"]
    ]
    supply["medicationReference"] = agreement["medicationReference"]
    patient = patient_of(evaluate(evaluator, [agreement, supply]))
    assert [e.ref for e in patient.history] == [f"MedicationRequest/{agreement['id']}"]


# --- drafts ---------------------------------------------------------------------------------


def test_a_drafted_stop_agreement_gets_no_prescribing_cards(evaluator: Evaluator) -> None:
    """The GP drafts the stop of the morphine pump (with the stop type of Nictiz's temazepam
    stop): as an agreement it would get five cards, as a stop none."""
    pump = copy.deepcopy(block("MedAgr", PUMP, "MA"))
    pump["status"] = "draft"
    assert len(evaluate(evaluator, [], [pump]).cards) == 4
    stop = {
        **pump,
        "modifierExtension": block("MedAgr", TEMAZEPAM, "MASTAKEN")["modifierExtension"],
    }
    assert stop["modifierExtension"][0]["url"] == STOP_TYPE
    assert evaluate(evaluator, [], [stop]).cards == []
    # Next to a new prescription, the stop adds nothing.
    with_stop = evaluate(evaluator, [], [oxycodon_draft(), stop])
    assert with_stop.fired_rule_ids == evaluate(evaluator, [], [oxycodon_draft()]).fired_rule_ids


def _drafted_stop(agreement: dict[str, Any], stop_day: date | None) -> dict[str, Any]:
    """The GP's stop of a running treatment: the agreement again, as a draft, with the stop
    type of Nictiz's temazepam stop and its period of use ending on the stop day."""
    stop = copy.deepcopy(agreement)
    stop["id"] = f"stop-{agreement['id']}"
    stop["status"] = "draft"
    stop["modifierExtension"] = block("MedAgr", TEMAZEPAM, "MASTAKEN")["modifierExtension"]
    for extension in stop["extension"]:
        if extension["url"].endswith("ext-TimeInterval.Period"):
            if stop_day is None:
                del extension["valuePeriod"]["end"]
            else:
                extension["valuePeriod"]["end"] = stop_day.isoformat()
    return stop


@pytest.mark.parametrize("stop_day", [ANCHOR_DATE, None, ANCHOR_DATE - timedelta(days=1)])
def test_a_drafted_stop_ends_the_running_treatment_before_the_new_draft(
    evaluator: Evaluator, stop_day: date | None
) -> None:
    """A switch: the GP stops the running morphine pump (180 mg OME a day) and drafts
    oxycodon MGA 10 mg twice a day (30 mg OME) in the same call. Without the stop both count
    and the daily dose is over the limit; with it only the oxycodon runs."""
    pump = block("MedAgr", PUMP, "MA")
    running = evaluate(evaluator, [pump])
    assert "high-daily-dose" in running.fired_rule_ids
    switched = evaluate(evaluator, [pump], [oxycodon_draft(), _drafted_stop(pump, stop_day)])
    assert "high-daily-dose" not in switched.fired_rule_ids
    patient = patient_of(switched)
    assert [e.is_active for e in patient.history] == [False]
    assert [c.ome_mg_per_day for c in patient.ome_contributions] == [pytest.approx(30.0)]


def test_a_drafted_stop_dated_later_leaves_the_treatment_running_until_then(
    evaluator: Evaluator,
) -> None:
    """Tapering: a stop of the pump dated in three days keeps it running today."""
    pump = block("MedAgr", PUMP, "MA")
    later = _drafted_stop(pump, ANCHOR_DATE + timedelta(days=3))
    switched = evaluate(evaluator, [pump], [oxycodon_draft(), later])
    assert "high-daily-dose" in switched.fired_rule_ids
    assert [e.is_active for e in patient_of(switched).history] == [True]
    after = evaluate(evaluator, [pump], [oxycodon_draft(), later], today=ANCHOR_DATE + timedelta(4))
    assert [e.is_active for e in patient_of(after).history] == [False]


@pytest.mark.parametrize(
    ("agreement", "fired"),
    [
        # Codeine "bij hoest" (ATC R05DA04): the pain agreements leave it alone.
        (block("MedAgr", CODEINE, "MA"), []),
        # The morphine pump as a GP's draft: 9 days, 180 mg OME a day at the upper end of its
        # rate; a pump runs around the clock, so it is no short-acting opioid of rule 1.
        (
            block("MedAgr", PUMP, "MA"),
            [
                "high-daily-dose",
                "gp-duration-limit",
                "missing-indication-or-duration",
                "new-user-education",
            ],
        ),
    ],
)
def test_the_opioid_agreements_as_drafts(
    evaluator: Evaluator, agreement: dict[str, Any], fired: list[str]
) -> None:
    draft = copy.deepcopy(agreement)
    draft["status"] = "draft"
    assert evaluate(evaluator, [], [draft]).fired_rule_ids == fired
