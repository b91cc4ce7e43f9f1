"""Patient facts: age, postcode, condition sets, pregnancy, consults, surgery, indications."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from fhir_fixtures.builders import (
    ATC,
    ICD10,
    ICPC,
    LOINC,
    SNOMED,
    concept,
    condition,
    encounter,
    med_request,
)
from rules.catalogue import Catalogue
from tests.rules.facts.conftest import build, only_order


def test_age_and_postcode(catalogue: Catalogue) -> None:
    patient = {
        "resourceType": "Patient",
        "id": "p1",
        "birthDate": "1960-03-02",
        "address": [
            {"use": "old", "postalCode": "1012 AB"},
            {"use": "home", "postalCode": "3771 ab", "city": "Barneveld"},
        ],
    }
    facts = build(catalogue, [], [patient])
    assert facts.patient.age == 63  # birthday tomorrow
    assert facts.patient.birth_date == date(1960, 3, 2)
    assert facts.patient.postcode == "3771"
    assert facts.patient.patient_id == "p1"


def test_patient_without_data(catalogue: Catalogue) -> None:
    patient = build(catalogue, [], []).patient
    assert (patient.age, patient.postcode, patient.pregnant) == (None, None, False)
    assert patient.condition_sets == frozenset()
    assert patient.last_physical_consult is None and patient.current_encounter_physical is None


def test_condition_sets_of_active_conditions(catalogue: Catalogue) -> None:
    conditions = [
        condition("c1", concept((ICPC, "L86", "Lage rugpijn met uitstraling"))),
        condition("c2", concept((ICD10, "C50.9")), status="resolved"),
        condition(
            "c3",
            concept((SNOMED, "75544000")),
            verificationStatus=concept(
                ("http://terminology.hl7.org/CodeSystem/condition-ver-status", "entered-in-error")
            ),
        ),
        condition("c4", concept((ICPC, "P19", "Drugsmisbruik")), text=None),
        condition("c5", concept((ICD10, "F10.2")), status=None, abatementDateTime="2023-01-01"),
        condition("c6", concept((SNOMED, "103735009", "Palliative care"))),
        condition(
            "c7", {"coding": [{"system": ICPC, "code": "P19", "display": "Opiatenverslaving"}]}
        ),
    ]
    sets = build(catalogue, [], conditions).patient.condition_sets
    assert sets == {"bony_musculoskeletal_pain", "palliative_or_cancer", "opioid_use_disorder"}


def test_pregnancy_by_condition_and_by_observation(catalogue: Catalogue) -> None:
    by_condition = build(catalogue, [], [condition("c", concept((ICPC, "W78")))]).patient
    assert by_condition.pregnant and "pregnancy" in by_condition.condition_sets

    def observation(when: str, value: str) -> dict[str, Any]:
        return {
            "resourceType": "Observation",
            "id": f"o{when}",
            "status": "final",
            "code": concept((LOINC, "82810-3")),
            "effectiveDateTime": when,
            "valueCodeableConcept": concept((SNOMED, value)),
        }

    pregnant = build(catalogue, [], [observation("2024-01-10", "77386006")]).patient
    assert pregnant.pregnant and "pregnancy" in pregnant.condition_sets
    later_not = build(
        catalogue,
        [],
        [observation("2024-01-10", "77386006"), observation("2024-02-10", "60001007")],
    ).patient
    assert not later_not.pregnant
    stale = build(catalogue, [], [observation("2022-01-10", "77386006")]).patient
    assert not stale.pregnant


def test_physical_consults(catalogue: Catalogue) -> None:
    encounters = [
        encounter("consult", "AMB", "2024-02-01"),
        encounter("visite", "HH", "2024-02-10"),
        encounter("video", "VR", "2024-02-20"),
        encounter("phone", "AMB", "2024-02-21", type=[{"text": "Telefonisch consult"}]),
        encounter("econsult", "AMB", "2024-02-22", type=[concept((SNOMED, "185317003"))]),
        encounter("planned", "AMB", "2024-02-25", status="planned"),
        encounter("future", "AMB", "2024-04-01"),
    ]
    patient = build(catalogue, [], encounters).patient
    assert patient.physical_consult_dates == (date(2024, 2, 1), date(2024, 2, 10))
    assert patient.last_physical_consult == date(2024, 2, 10)


@pytest.mark.parametrize(("klass", "expected"), [("AMB", True), ("VR", False)])
def test_the_currentencounter(catalogue: Catalogue, klass: str, expected: bool) -> None:
    current = encounter("now", klass, "2024-03-01", status="in-progress")
    facts = build(catalogue, [], [current], context={"patientId": "p1", "encounterId": "now"})
    assert facts.encounter_ref == "Encounter/now"
    assert facts.patient.current_encounter_physical is expected
    assert (facts.patient.last_physical_consult == date(2024, 3, 1)) is expected


def test_surgical_procedures(catalogue: Catalogue) -> None:
    procedures = [
        {
            "resourceType": "Procedure",
            "id": "knee",
            "status": "completed",
            "category": concept((SNOMED, "387713003", "Surgical procedure")),
            "code": {"text": "Totale knieprothese"},
            "performedDateTime": "2024-02-15",
        },
        {
            "resourceType": "Procedure",
            "id": "hernia",
            "status": "completed",
            "code": {"text": "Liesbreukoperatie"},
            "performedPeriod": {"start": "2024-01-05"},
        },
        {
            "resourceType": "Procedure",
            "id": "injection",
            "status": "completed",
            "code": {"text": "Griepvaccinatie"},
        },
        {
            "resourceType": "Procedure",
            "id": "cancelled",
            "status": "not-done",
            "code": {"text": "operatie"},
        },
    ]
    found = build(catalogue, [], procedures).patient.surgical_procedures
    assert [(p.ref, p.performed_on) for p in found] == [
        ("Procedure/hernia", date(2024, 1, 5)),
        ("Procedure/knee", date(2024, 2, 15)),
    ]


def test_indication_codes_from_reason_and_encounter_diagnosis(catalogue: Catalogue) -> None:
    back_pain = condition("backpain", concept((SNOMED, "279039007", "Low back pain")))
    own = med_request(
        "o", concept((ATC, "N02AA05")), reasonReference=[{"reference": "Condition/backpain"}]
    )
    order = only_order(build(catalogue, [own], [back_pain]))
    assert order.has_indication
    assert order.indication_codes == ((SNOMED, "279039007"),)
    assert order.indication_sets == {"bony_musculoskeletal_pain"}

    visit = encounter(
        "now",
        "AMB",
        "2024-03-01",
        status="in-progress",
        diagnosis=[{"condition": {"reference": "Condition/backpain"}}],
    )
    bare = med_request("o", concept((ATC, "N02AA05")))
    facts = build(
        catalogue, [bare], [back_pain, visit], context={"patientId": "p1", "encounterId": "now"}
    )
    order = only_order(facts)
    assert not order.has_indication  # rule 7 wants the indication on the prescription
    assert order.indication_sets == {"bony_musculoskeletal_pain"}  # rule 6 reads the diagnosis


def test_single_object_reason_code_is_normalised(catalogue: Catalogue) -> None:
    sandbox_style = med_request(
        "o", concept((ATC, "N02AA05")), reasonCode={"coding": [{"system": ICPC, "code": "L90"}]}
    )
    sandbox_style["category"] = {"coding": [{"code": "community"}]}
    del sandbox_style["intent"]
    order = only_order(build(catalogue, [sandbox_style]))
    assert order.has_indication and order.indication_sets == {"bony_musculoskeletal_pain"}
    assert order.intent is None


def test_palliative_care_recorded_as_an_in_progress_procedure(catalogue: Catalogue) -> None:
    def procedure(ident: str, status: str, code: tuple[str, str]) -> dict[str, Any]:
        return {
            "resourceType": "Procedure",
            "id": ident,
            "status": status,
            "code": concept((SNOMED, code[0]), text=code[1]),
            "subject": {"reference": "Patient/p1"},
        }

    palliative = ("103735009", "Palliative care")
    oxy = med_request("oxy", concept((ATC, "N02AA05")))
    running = build(catalogue, [oxy], [procedure("pc", "in-progress", palliative)])
    assert "palliative_or_cancer" in running.patient.condition_sets
    finished = build(catalogue, [oxy], [procedure("pc", "completed", palliative)])
    assert "palliative_or_cancer" not in finished.patient.condition_sets
