"""Recognising the medication of an order: every path of docs/definitions.md §1 "Opioid"."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_fixtures.builders import (
    ATC,
    EDQM,
    GPK,
    HPK,
    PRK,
    RXNORM,
    SNOMED,
    ZI,
    concept,
    med_request,
)
from rules.catalogue import Catalogue
from rules.facts import OpioidStrength, Problem, ProblemReason, Quantity, RecognisedBy, ReleaseType
from tests.rules.facts.conftest import build, only_order, order_of


@pytest.mark.parametrize(
    ("medication", "path", "substance"),
    [
        (concept((ATC, "N02AA05")), RecognisedBy.ATC, "oxycodone"),
        (concept((PRK, "57614")), RecognisedBy.GSTANDAARD, "oxycodone"),
        (concept((GPK, "129585")), RecognisedBy.GSTANDAARD, "fentanyl"),
        (concept((HPK, "1632108")), RecognisedBy.GSTANDAARD, "tramadol"),
        (concept((ZI, "14899337")), RecognisedBy.GSTANDAARD, "tramadol"),
        (concept((RXNORM, "1049683")), RecognisedBy.RXNORM, "oxycodone"),
        (concept((RXNORM, "7052")), RecognisedBy.RXNORM, "morphine"),  # ingredient code
        (concept((SNOMED, "765706002")), RecognisedBy.SNOMED, "oxycodone"),
        (concept((SNOMED, "373492002")), RecognisedBy.SNOMED, "fentanyl"),  # substance code
        (concept(text="Oxycodon 5 mg capsule"), RecognisedBy.TEXT, "oxycodone"),
        (concept(text="Codeïne 10 mg tablet"), RecognisedBy.TEXT, "codeine"),
        (concept(text="morphine sulfate 10 MG Oral Tablet"), RecognisedBy.TEXT, "morphine"),
        (concept((PRK, "999999", "HYDROMORFON CAPSULE 2,6MG")), RecognisedBy.TEXT, "hydromorphone"),
    ],
)
def test_each_recognition_path(
    catalogue: Catalogue, medication: dict[str, Any], path: RecognisedBy, substance: str
) -> None:
    order = order_of(catalogue, med_request("o1", medication))
    assert order.is_opioid
    assert order.recognised_by is path
    assert order.coded is (path is not RecognisedBy.TEXT)
    assert [s.key for s in order.substances] == [substance]


def test_paths_are_tried_in_the_order_of_the_rules(catalogue: Catalogue) -> None:
    medication = concept((RXNORM, "1049683"), (PRK, "57614"), (ATC, "N02AA05"))
    order = order_of(catalogue, med_request("o1", medication))
    assert order.recognised_by is RecognisedBy.ATC
    # product details still come from the catalogue product
    assert order.release_type is ReleaseType.LONG_ACTING
    assert order.medication.strength_per_unit == Quantity(10, "mg")


def test_a_coded_non_opioid_is_not_guessed_from_text(catalogue: Catalogue) -> None:
    medication = concept((ATC, "N02BE01", "paracetamol"), text="paracetamol na oxycodon")
    order = order_of(catalogue, med_request("o1", medication))
    assert not order.is_opioid
    assert order.recognised_by is RecognisedBy.NONE


def test_no_medication_yet_is_not_an_opioid_and_not_an_error(catalogue: Catalogue) -> None:
    facts = build(catalogue, [{"resourceType": "MedicationRequest", "id": "x", "status": "draft"}])
    order = only_order(facts)
    assert not order.is_opioid
    assert order.recognised_by is RecognisedBy.NONE
    assert not order.medication_resolved
    assert facts.opioid_orders == []


@pytest.mark.parametrize(
    ("medication", "strength"),
    [
        (concept((ATC, "N02AX02")), OpioidStrength.WEAK),
        (concept((ATC, "N02AJ06")), OpioidStrength.WEAK),  # codeine + paracetamol
        (concept(text="dihydrocodeine 60 mg"), OpioidStrength.WEAK),
        (concept((ATC, "N02AA01")), OpioidStrength.STRONG),
        (concept((ATC, "N02AX06")), OpioidStrength.STRONG),  # tapentadol
        (concept((ATC, "N02AA55")), OpioidStrength.STRONG),  # oxycodone + naloxone
    ],
)
def test_strong_and_weak(
    catalogue: Catalogue, medication: dict[str, Any], strength: OpioidStrength
) -> None:
    assert order_of(catalogue, med_request("o1", medication)).strength is strength


def test_oat_by_atc_and_by_indication(catalogue: Catalogue) -> None:
    by_atc = order_of(catalogue, med_request("o1", concept((ATC, "N07BC02"))))
    assert by_atc.is_oat and by_atc.release_type is ReleaseType.LONG_ACTING
    suboxone = order_of(catalogue, med_request("o1", concept((RXNORM, "1010603"))))
    assert suboxone.is_oat
    indication = {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "F11.2"}]}
    for_oud = order_of(
        catalogue,
        med_request("o1", concept(text="methadon tablet 5mg"), reasonCode=[indication]),
    )
    assert for_oud.is_oat
    for_pain = order_of(catalogue, med_request("o1", concept(text="methadon tablet 5mg")))
    assert not for_pain.is_oat
    assert for_pain.release_type is ReleaseType.LONG_ACTING  # methadone is long-acting


def test_antitussive_codeine(catalogue: Catalogue) -> None:
    plain = order_of(catalogue, med_request("o1", concept((ATC, "R05DA04"))))
    assert plain.is_opioid and plain.is_antitussive_codeine
    combination = order_of(catalogue, med_request("o1", concept((ATC, "N02AJ06"))))
    assert not combination.is_antitussive_codeine
    # Codeine, alone or with paracetamol, with a cough indication (ICPC R05, SNOMED
    # 49727002) is antitussive too; a cough indication does not make another opioid one.
    for code in (("http://hl7.org/fhir/sid/icpc-1-nl", "R05"), (SNOMED, "49727002")):
        cough: list[Any] = [concept(code)]
        for medication, antitussive in (
            (concept((ATC, "N02AJ06")), True),
            (concept(text="Codeïne drank"), True),
            (concept((ATC, "N02AX02")), False),  # tramadol
        ):
            found = order_of(catalogue, med_request("o1", medication, reasonCode=cough))
            assert found.is_antitussive_codeine is antitussive


@pytest.mark.parametrize(
    ("medication", "once_daily"),
    [
        (concept((RXNORM, "833709")), True),  # 24 HR tramadol ER, marked in the catalogue
        (concept((ATC, "N02AX02"), text="TRAMADOL HCL 24-UURS TABLET MGA 200MG"), True),
        (concept((ATC, "N02AA03"), text="HYDROMORFON HCL OROS TABLET MGA 8MG"), True),
        (concept((ATC, "N02AX02"), text="TRAMADOL HCL RETARD 1X DAAGS TABLET 200MG"), True),
        (concept((PRK, "50431")), False),  # tramadol retard MGA: twice a day
        (concept((RXNORM, "1049683")), False),  # short-acting: never once-daily
        (concept((ATC, "N02AA05"), text="Oxycodone 12 HR 10 mg"), False),
    ],
)
def test_a_product_made_for_once_daily_dosing(
    catalogue: Catalogue, medication: dict[str, Any], once_daily: bool
) -> None:
    assert order_of(catalogue, med_request("o1", medication)).once_daily is once_daily


def test_a_substance_names_its_own_long_acting_form(catalogue: Catalogue) -> None:
    """Rule 1: the catalogue's long-acting form of the same substance, or none."""
    forms = {
        key: order_of(catalogue, med_request("o1", concept((ATC, atc)))).substances[0]
        for key, atc in (("oxycodone", "N02AA05"), ("tramadol", "N02AX02"), ("codeine", "N02AJ06"))
    }
    assert forms["oxycodone"].long_acting_form_nl == "oxycodon MGA 2× daags"
    assert forms["tramadol"].long_acting_form_nl == "tramadol MGA 2× daags"
    assert forms["tramadol"].long_acting_form_en == "tramadol modified-release twice a day"
    assert forms["codeine"].long_acting_form_nl is None
    assert forms["codeine"].long_acting_form_en is None


@pytest.mark.parametrize(
    ("medication", "release", "basis_start"),
    [
        (concept((PRK, "57614")), ReleaseType.LONG_ACTING, "gstandaard_prk"),
        (concept((RXNORM, "1049683")), ReleaseType.SHORT_ACTING, "rxnorm"),
        (
            concept((ATC, "N02AA05"), text="OXYCODON TABLET MGA 5MG"),
            ReleaseType.LONG_ACTING,
            "text",
        ),
        (concept((ATC, "N02AA05"), text="Oxycodone 12 HR 10 mg"), ReleaseType.LONG_ACTING, "text"),
        (
            concept((ATC, "N02AB03"), text="Fentanyl Transdermal 25"),
            ReleaseType.LONG_ACTING,
            "text",
        ),
        (concept((ATC, "N02AA05"), text="oxycodon"), ReleaseType.UNKNOWN, None),
    ],
)
def test_release_type_of_an_order(
    catalogue: Catalogue,
    medication: dict[str, Any],
    release: ReleaseType,
    basis_start: str | None,
) -> None:
    order = order_of(catalogue, med_request("o1", medication))
    assert order.release_type is release
    if basis_start is None:
        assert order.medication.release_type_basis is None
    else:
        assert (order.medication.release_type_basis or "").startswith(basis_start)


@pytest.mark.parametrize(
    ("form", "release", "patch"),
    [
        (concept((EDQM, "10226000")), ReleaseType.LONG_ACTING, False),
        (concept((EDQM, "0045")), ReleaseType.LONG_ACTING, False),
        (concept((EDQM, "10219000")), ReleaseType.SHORT_ACTING, False),
        (concept((EDQM, "10519000")), ReleaseType.LONG_ACTING, True),
        (concept((SNOMED, "385060002")), ReleaseType.LONG_ACTING, False),
        (concept((SNOMED, "385055001")), ReleaseType.SHORT_ACTING, False),
        (concept((RXNORM, "316946")), ReleaseType.LONG_ACTING, False),
        (concept((RXNORM, "316987")), ReleaseType.LONG_ACTING, True),
    ],
)
def test_release_type_from_a_coded_dose_form(
    catalogue: Catalogue, form: dict[str, Any], release: ReleaseType, patch: bool
) -> None:
    medication = {
        "resourceType": "Medication",
        "id": "m1",
        "code": concept((ATC, "N02AA01")),
        "form": form,
    }
    order = order_of(catalogue, med_request("o1", reference="Medication/m1"), medication)
    assert (order.release_type, order.is_patch) == (release, patch)


def test_transdermal_route_makes_an_unknown_form_a_patch_route(catalogue: Catalogue) -> None:
    route = concept((SNOMED, "45890007", "Transdermal route"))
    order = order_of(
        catalogue,
        med_request("o1", concept((ATC, "N02AB03")), dosages=[{"route": route}]),
    )
    assert order.route == "transdermal"


def test_medication_reference_resolution(catalogue: Catalogue) -> None:
    medication = {"resourceType": "Medication", "id": "m1", "code": concept((PRK, "57614"))}
    contained = med_request("o1", reference="#m1", contained=[medication])
    assert order_of(catalogue, contained).is_opioid
    from_bundle = med_request("o2", reference="Medication/m1")
    assert order_of(catalogue, from_bundle, medication).is_opioid
    absolute = med_request("o3", reference="https://fhir.example.org/r4/Medication/m1")
    assert order_of(catalogue, absolute, medication).is_opioid
    as_uuid = med_request("o4", reference="urn:uuid:m1")
    assert order_of(catalogue, as_uuid, medication).is_opioid


def test_unresolved_reference_falls_back_to_its_display(catalogue: Catalogue) -> None:
    request = med_request("o1")
    request["medicationReference"] = {
        "reference": "Medication/gone",
        "display": "FENTANYL PLEISTER 25UG/UUR",
    }
    facts = build(catalogue, [request])
    order = only_order(facts)
    assert order.is_opioid and not order.coded and not order.medication_resolved
    assert order.is_patch and order.medication.strength_per_unit == Quantity(25, "ug/h")
    assert Problem("medication", ProblemReason.NOT_RESOLVED, order.order_id) in (facts.problems)


def test_ingredient_strength_of_a_medication_resource(catalogue: Catalogue) -> None:
    medication = {
        "resourceType": "Medication",
        "id": "m1",
        "code": concept((PRK, "123456", "OXYCODON/NALOXON TABLET MGA 20/10MG")),
        "ingredient": [
            {
                "itemCodeableConcept": concept((ATC, "N02AA05", "oxycodon")),
                "strength": {
                    "numerator": {"value": 20, "unit": "mg", "code": "mg"},
                    "denominator": {"value": 1, "unit": "stuk", "code": "1"},
                },
            },
            {
                "itemCodeableConcept": concept((ATC, "V03AB15", "naloxon")),
                "strength": {"numerator": {"value": 10, "code": "mg"}, "denominator": {"value": 1}},
            },
        ],
    }
    order = order_of(catalogue, med_request("o1", reference="Medication/m1"), medication)
    assert order.recognised_by is RecognisedBy.ATC  # ingredient ATC
    assert [s.key for s in order.substances] == ["oxycodone"]
    assert order.medication.strength_per_unit == Quantity(20, "mg")
    assert order.release_type is ReleaseType.LONG_ACTING
    assert not order.medication.is_naloxone


def test_sedative_and_naloxone_orders(catalogue: Catalogue) -> None:
    facts = build(
        catalogue,
        [
            med_request("b", concept((ATC, "N05BA01"))),
            med_request("z", concept(text="zolpidem 10 mg")),
            med_request("g", concept((ATC, "N03AX16"))),
            med_request("n", concept((RXNORM, "1191212"))),
        ],
    )
    classes = {o.order_id: o.medication.sedative_class for o in facts.orders}
    assert classes == {
        "MedicationRequest/b": "benzodiazepine",
        "MedicationRequest/z": "z-drug",
        "MedicationRequest/g": "gabapentinoid",
        "MedicationRequest/n": None,
    }
    assert [o.order_id for o in facts.sedative_orders] == [
        "MedicationRequest/b",
        "MedicationRequest/z",
        "MedicationRequest/g",
    ]
    assert facts.orders[3].medication.is_naloxone
    assert not any(o.is_opioid for o in facts.orders)
