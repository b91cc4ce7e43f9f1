"""Patient history facts: exposure, covered days, prescribers, consults, OME (definitions §1-2)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from fhir_fixtures.builders import (
    AGB,
    AGB_SPECIALISM,
    ATC,
    NEXT_PRACTITIONER,
    PERIOD_OF_USE,
    PRK,
    RXNORM,
    concept,
    dispense,
    dosage,
    med_request,
    practitioner,
    qty,
)
from rules.catalogue import Catalogue
from rules.facts import ExposureSource, FactSettings, PrescriberRole, ReleaseType
from tests.rules.facts.conftest import TODAY, build

OXY = concept((ATC, "N02AA05"))


def _prior(
    ident: str, authored: str, days: int, *, medication: dict[str, Any] = OXY, **extra: Any
) -> dict[str, Any]:
    request = med_request(
        ident,
        medication,
        authored=authored,
        dispenseRequest={"expectedSupplyDuration": qty(days, "d")},
    )
    request.update(extra)
    return request


def _dispense(
    ident: str, handed_over: str, days: int, *, medication: dict[str, Any] = OXY, **extra: Any
) -> dict[str, Any]:
    return dispense(ident, medication, handed_over, days, **extra)


def test_covered_days_are_a_union_without_gap_filling(catalogue: Catalogue) -> None:
    history = [
        _prior("a", "2024-02-01", 14, requester={"reference": "Practitioner/d1"}),
        _dispense(
            "a-dispense",
            "2024-02-01",
            14,
            authorizingPrescription=[{"reference": "MedicationRequest/a"}],
        ),
        _prior("b", "2024-02-20", 5),
        practitioner("d1", "01000001"),
    ]
    patient = build(catalogue, [], history).patient
    assert patient.prior_opioid_days == 14 + 5
    assert [(e.prescribed_on, e.source) for e in patient.history] == [
        (date(2024, 2, 1), ExposureSource.MEDICATION_DISPENSE),
        (date(2024, 2, 1), ExposureSource.MEDICATION_REQUEST),
        (date(2024, 2, 20), ExposureSource.MEDICATION_REQUEST),
    ]
    dispense = patient.history[0]
    assert dispense.prescriber_id == "agb:01000001"  # via the authorising prescription


def test_covered_days_are_clipped_to_the_look_back(catalogue: Catalogue) -> None:
    # window: 2023-12-03 .. 2024-03-01 (90 days including today)
    patient = build(catalogue, [], [_prior("a", "2023-11-20", 30)]).patient
    assert patient.prior_opioid_days == 17
    longer = build(
        catalogue, [], [_prior("a", "2023-11-20", 30)], settings=FactSettings(lookback_days=120)
    ).patient
    assert longer.prior_opioid_days == 30


def test_new_user_window(catalogue: Catalogue) -> None:
    old = build(catalogue, [], [_prior("a", "2023-08-01", 10)]).patient
    assert old.prior_opioid_days == 0
    assert old.opioid_days_new_user_window == 10
    assert old.last_prior_prescription is None  # outside the 90-day look-back
    nothing = build(catalogue, [], [_prior("a", "2022-08-01", 10)]).patient
    assert nothing.opioid_days_new_user_window == 0


def test_oat_counts_for_prescribers_not_for_exposure(catalogue: Catalogue) -> None:
    methadone = concept((ATC, "N07BC02"))
    history = [
        _prior(
            "oat", "2024-02-01", 28, medication=methadone, requester={"reference": "Practitioner/v"}
        ),
        practitioner("v", "01999999"),
    ]
    patient = build(catalogue, [], history).patient
    assert patient.history[0].is_oat
    assert patient.prior_opioid_days == 0
    assert patient.last_prior_prescription is None
    assert patient.prescribers_in_lookback == {"agb:01999999"}
    assert patient.latest_supply_end == {}


def test_excluded_statuses_and_the_drafts_themselves(catalogue: Catalogue) -> None:
    draft = med_request("now", OXY)
    history = [
        _prior("error", "2024-02-01", 10, status="entered-in-error"),
        _prior("cancelled", "2024-02-01", 10, status="cancelled"),
        _prior("proposal", "2024-02-01", 10, intent="proposal"),
        {**draft, "dispenseRequest": {"expectedSupplyDuration": qty(10, "d")}},
        _dispense("declined", "2024-02-01", 10, status="declined"),
    ]
    patient = build(catalogue, [draft], history).patient
    assert patient.history == ()
    assert patient.prior_opioid_days == 0


def test_last_prior_prescription_role_and_handover(catalogue: Catalogue) -> None:
    specialist = {
        "resourceType": "PractitionerRole",
        "id": "ortho",
        "specialty": [concept((AGB_SPECIALISM, "0305", "Orthopedie"))],
    }
    gp = {
        "resourceType": "PractitionerRole",
        "id": "gp",
        "specialty": [concept((AGB_SPECIALISM, "0100"))],
    }
    handover = [{"url": NEXT_PRACTITIONER, "valueReference": {"reference": "PractitionerRole/gp"}}]
    history = [
        _prior("early", "2024-01-10", 7),
        _prior("ortho-rx", "2024-02-10", 7, requester={"reference": "PractitionerRole/ortho"}),
        specialist,
        gp,
    ]
    patient = build(catalogue, [], history).patient
    last = patient.last_prior_prescription
    assert last is not None and last.ref == "MedicationRequest/ortho-rx"
    assert last.prescriber_role is PrescriberRole.SPECIALIST
    assert not last.has_handover
    history[1] = _prior(
        "ortho-rx",
        "2024-02-10",
        7,
        requester={"reference": "PractitionerRole/ortho"},
        extension=handover,
    )
    last = build(catalogue, [], history).patient.last_prior_prescription
    assert last is not None and last.has_handover
    assert last.next_practitioner is not None and last.next_practitioner.role is PrescriberRole.GP


def test_handover_to_the_requesters_organisation(catalogue: Catalogue) -> None:
    practice = {
        "resourceType": "Organization",
        "id": "practice",
        "name": "Gezondheidscentrum Leusden",
    }
    named = {
        "resourceType": "PractitionerRole",
        "id": "named",
        "organization": {"reference": "Organization/practice"},
    }
    me = {
        "resourceType": "PractitionerRole",
        "id": "me",
        "organization": {"reference": "Organization/practice"},
    }
    handover = [
        {"url": NEXT_PRACTITIONER, "valueReference": {"reference": "PractitionerRole/named"}}
    ]
    prior = _prior("rx", "2024-02-10", 7, extension=handover)
    draft = med_request("now", OXY, requester={"reference": "PractitionerRole/me"})
    patient = build(catalogue, [draft], [prior, practice, named, me]).patient
    assert patient.history[0].has_handover
    alone = build(catalogue, [med_request("now", OXY)], [prior, practice, named]).patient
    assert not alone.history[0].has_handover


def test_supply_end_per_substance_and_early_refill_inputs(catalogue: Catalogue) -> None:
    tramadol = concept((ATC, "N02AX02"))
    history = [
        _prior("oxy-1", "2024-02-01", 10),
        _dispense("oxy-2", "2024-02-25", 14),
        _prior("tram", "2024-02-20", 5, medication=tramadol),
    ]
    patient = build(catalogue, [], history).patient
    # Keyed by substance and release type: ATC codes alone do not tell the release type.
    assert patient.latest_supply_end == {
        ("oxycodone", ReleaseType.UNKNOWN): date(2024, 3, 9),
        ("tramadol", ReleaseType.UNKNOWN): date(2024, 2, 24),
    }


def test_distinct_prescribers_and_pharmacies(catalogue: Catalogue) -> None:
    history: list[dict[str, Any]] = [
        practitioner("d1", "01000001"),
        practitioner("d2", "01000002"),
        practitioner("d3", "03000003"),
    ]
    for n, (doctor, pharmacy) in enumerate([("d1", "A"), ("d2", "B"), ("d3", "A"), ("d1", "C")]):
        prescription = _prior(
            f"rx{n}", f"2024-02-0{n + 1}", 5, requester={"reference": f"Practitioner/{doctor}"}
        )
        dispense = _dispense(
            f"md{n}",
            f"2024-02-0{n + 1}",
            5,
            authorizingPrescription=[{"reference": f"MedicationRequest/rx{n}"}],
            performer=[
                {
                    "actor": {
                        "identifier": {"system": AGB, "value": f"0601{pharmacy}"},
                        "display": pharmacy,
                    }
                }
            ],
        )
        history.extend([prescription, dispense])
    history.append(_prior("old", "2023-01-01", 5, requester={"reference": "Practitioner/other"}))
    patient = build(catalogue, [], history).patient
    assert patient.prescribers_in_lookback == {"agb:01000001", "agb:01000002", "agb:03000003"}
    assert patient.pharmacies_in_lookback == {"agb:0601A", "agb:0601B", "agb:0601C"}


def test_medication_statement_in_use_covers_until_today(catalogue: Catalogue) -> None:
    statement = {
        "resourceType": "MedicationStatement",
        "id": "use",
        "status": "active",
        "medicationCodeableConcept": concept((PRK, "57614")),
        "effectivePeriod": {"start": "2024-02-01"},
        "dosage": [dosage(frequency=2, dose=qty(1, "1"))],
    }
    patient = build(catalogue, [], [statement]).patient
    exposure = patient.history[0]
    assert exposure.source is ExposureSource.MEDICATION_STATEMENT
    assert exposure.is_active and exposure.end == TODAY
    assert patient.prior_opioid_days == 30  # 1 Feb .. 1 Mar 2024
    assert patient.total_ome_mg_per_day == pytest.approx(30.0)


@pytest.mark.parametrize("end", [None, "9998-12-31"])
def test_medication_statement_to_the_far_future_is_in_use_until_today(
    catalogue: Catalogue, end: str | None
) -> None:
    """An end of 9998-12-31 means "no end", as none does: in use, not a supply to 9998."""
    period = {"start": "2024-02-01"} | ({"end": end} if end else {})
    statement = {
        "resourceType": "MedicationStatement",
        "id": "use",
        "status": "active",
        "medicationCodeableConcept": concept((PRK, "57614")),
        "effectivePeriod": period,
    }
    patient = build(catalogue, [], [statement]).patient
    assert patient.history[0].end == TODAY
    assert patient.history[0].is_active
    assert patient.latest_supply_end == {}


def test_total_ome_of_active_and_drafted_opioids(catalogue: Catalogue) -> None:
    active = med_request(
        "active",
        concept((RXNORM, "245134")),
        authored="2024-02-20",
        dosages=[dosage(frequency=1, period=3, dose=qty(1, "1"))],
        dispenseRequest={"expectedSupplyDuration": qty(30, "d")},
    )
    same_supply = _dispense(
        "its-dispense", "2024-02-20", 30, medication=concept((RXNORM, "245134"))
    )
    ended = med_request(
        "ended",
        concept((RXNORM, "1049683")),
        authored="2024-01-01",
        dosages=[dosage(frequency=4, dose=qty(1, "1"))],
        dispenseRequest={"expectedSupplyDuration": qty(10, "d")},
    )
    replaced = med_request(
        "replaced",
        concept((RXNORM, "1049574")),
        authored="2024-02-25",
        dosages=[dosage(frequency=2, dose=qty(1, "1"))],
        dispenseRequest={"expectedSupplyDuration": qty(30, "d")},
    )
    draft = med_request(
        "draft",
        concept((RXNORM, "1049683")),
        dosages=[dosage(frequency=4, dose=qty(1, "1"))],
        priorPrescription={"reference": "MedicationRequest/replaced"},
    )
    buprenorphine = med_request(
        "bup",
        concept((ATC, "N02AE01"), text="buprenorfine pleister 10ug/uur"),
        authored="2024-02-25",
        dispenseRequest={"expectedSupplyDuration": qty(30, "d")},
    )
    patient = build(
        catalogue, [draft], [active, same_supply, ended, replaced, buprenorphine]
    ).patient
    refs = [c.ref for c in patient.ome_contributions]
    assert refs == ["MedicationRequest/draft", "MedicationRequest/active", "MedicationRequest/bup"]
    assert patient.total_ome_mg_per_day == pytest.approx(60.0 + 60.0)
    assert patient.ome_unconverted == ("buprenorfine pleister 10ug/uur",)


def test_active_sedatives_from_history_and_drafts(catalogue: Catalogue) -> None:
    benzo = med_request("benzo", concept((ATC, "N05BA04")), authored="2024-01-01")
    stopped = med_request("old-benzo", concept((ATC, "N05CD07")), status="stopped")
    pregabalin = {
        "resourceType": "MedicationStatement",
        "id": "lyrica",
        "status": "active",
        "medicationCodeableConcept": concept(text="Pregabaline 75 mg"),
    }
    drafted = med_request("zolpidem", concept((ATC, "N05CF02")))
    facts = build(
        catalogue,
        [med_request("oxy", OXY), drafted],
        [benzo, stopped, pregabalin],
        hook="order-select",
        context={"patientId": "p1", "selections": ["MedicationRequest/oxy"]},
    )
    sedatives = {
        (s.ref, s.sedative_class, s.is_draft, s.selected) for s in facts.patient.active_sedatives
    }
    assert sedatives == {
        ("MedicationRequest/benzo", "benzodiazepine", False, False),
        ("MedicationStatement/lyrica", "gabapentinoid", False, False),
        ("MedicationRequest/zolpidem", "z-drug", True, False),
    }


def test_requests_dispenses_and_statements_give_their_supply_period(
    catalogue: Catalogue,
) -> None:
    """One reader of periods for every kind of history resource: 14 days prescribed, 14 days
    handed over, and a statement of use that is still active (up to today)."""
    history = [
        _prior("rx", "2024-02-01", 14),
        _dispense("md", "2024-02-05", 14),
        {
            "resourceType": "MedicationStatement",
            "id": "use",
            "status": "active",
            "medicationCodeableConcept": OXY,
            "effectivePeriod": {"start": "2024-02-10"},
        },
    ]
    exposures = {e.ref: e for e in build(catalogue, [], history).patient.history}
    assert [(e.source, e.start, e.end, e.indefinite) for e in exposures.values()] == [
        (ExposureSource.MEDICATION_REQUEST, date(2024, 2, 1), date(2024, 2, 14), False),
        (ExposureSource.MEDICATION_DISPENSE, date(2024, 2, 5), date(2024, 2, 18), False),
        (ExposureSource.MEDICATION_STATEMENT, date(2024, 2, 10), TODAY, True),
    ]
    with pytest.raises(AttributeError):  # immutable
        exposures["MedicationRequest/rx"].is_active = True  # type: ignore[misc]


def test_a_sedative_dispense_is_active_for_its_days_supply(catalogue: Catalogue) -> None:
    oxazepam = concept((ATC, "N05BA04"), text="OXAZEPAM TABLET 10MG")
    oxy = med_request("oxy", OXY)

    def sedatives(handed_over: str, days: int) -> set[str]:
        resources = [_dispense("benzo", handed_over, days, medication=oxazepam)]
        return {s.ref for s in build(catalogue, [oxy], resources).patient.active_sedatives}

    assert sedatives("2024-02-25", 30) == {"MedicationDispense/benzo"}
    assert sedatives("2024-02-01", 30) == {"MedicationDispense/benzo"}  # last day: 03-01
    assert sedatives("2024-01-31", 30) == set()  # ran out on 02-29
    assert sedatives("2024-03-02", 30) == set()  # not handed over yet


def test_an_active_supply_that_ends_before_the_draft_starts_is_not_counted(
    catalogue: Catalogue,
) -> None:
    def oxy_request(ident: str, start: str, end: str, status: str) -> dict[str, Any]:
        return med_request(
            ident,
            OXY,
            status=status,
            authored="2024-02-25",
            dosages=[dosage(frequency=2, dose=qty(20, "mg"))],
            extension=[
                {
                    "url": "http://nictiz.nl/fhir/StructureDefinition/ext-TimeInterval.Period",
                    "valuePeriod": {"start": start, "end": end},
                }
            ],
        )

    current = oxy_request("current", "2024-02-25", "2024-03-04", "active")
    renewal = oxy_request("renewal", "2024-03-05", "2024-03-18", "draft")
    patient = build(catalogue, [renewal], [current]).patient
    assert [c.ref for c in patient.ome_contributions] == ["MedicationRequest/renewal"]
    assert patient.total_ome_mg_per_day == pytest.approx(60.0)
    overlapping = oxy_request("overlap", "2024-03-04", "2024-03-18", "draft")
    patient = build(catalogue, [overlapping], [current]).patient
    assert [c.ref for c in patient.ome_contributions] == [
        "MedicationRequest/overlap",
        "MedicationRequest/current",
    ]
    assert patient.total_ome_mg_per_day == pytest.approx(120.0)


def test_oat_and_administration_agreements_make_a_patient_no_new_user(catalogue: Catalogue) -> None:
    """Rule 10: OAT counts as opioid use in the new-user window, and an MP9 administration
    agreement (a MedicationDispense without a hand-over) covers its period of use."""
    methadone = concept((ATC, "N07BC02"), text="METHADON HCL DRANK 1MG/ML")
    on_oat = build(catalogue, [], [_prior("oat", "2023-12-01", 28, medication=methadone)]).patient
    assert on_oat.history[0].is_oat
    assert on_oat.prior_opioid_days == 0  # not prior pain medication (rules 4, 5, 8, 9, 11)
    assert on_oat.opioid_days_new_user_window == 28

    agreement = {
        "resourceType": "MedicationDispense",
        "id": "aa-1",
        "meta": {
            "profile": ["http://nictiz.nl/fhir/StructureDefinition/mp-AdministrationAgreement"]
        },
        "extension": [{"url": PERIOD_OF_USE, "valuePeriod": {"start": "2023-09-01"}}],
        "status": "in-progress",
        "medicationCodeableConcept": methadone,
        "subject": {"reference": "Patient/p1"},
    }
    patient = build(catalogue, [], [agreement]).patient
    [exposure] = patient.history
    assert exposure.start == date(2023, 9, 1) and exposure.indefinite
    assert exposure.end == TODAY and exposure.is_active
    assert patient.opioid_days_new_user_window > 0

    ended = dict(agreement, id="aa-2")
    ended["extension"] = [
        {"url": PERIOD_OF_USE, "valuePeriod": {"start": "2024-01-01", "end": "2024-01-10"}}
    ]
    [finished] = build(catalogue, [], [ended]).patient.history
    assert (finished.start, finished.end) == (date(2024, 1, 1), date(2024, 1, 10))
    assert not finished.indefinite and not finished.is_active
