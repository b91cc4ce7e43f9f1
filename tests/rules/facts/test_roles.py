"""Prescriber role (docs/definitions.md §1) and the Nictiz NextPractitioner handover."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_fixtures.builders import (
    AGB,
    AGB_SPECIALISM,
    ATC,
    NEXT_PRACTITIONER,
    SNOMED,
    UZI_ROLE,
    concept,
    med_request,
    practitioner_role,
)
from rules.catalogue import Catalogue
from rules.facts import FactSettings, OrderFacts, PrescriberRole, RoleSource
from tests.rules.facts.conftest import build, only_order

OXY = concept((ATC, "N02AA05"))


def _order_by(
    catalogue: Catalogue,
    requester: str | None,
    *resources: dict[str, Any],
    context: dict[str, Any] | None = None,
    settings: FactSettings | None = None,
) -> OrderFacts:
    extra: dict[str, Any] = {"requester": {"reference": requester}} if requester else {}
    request = med_request("o", OXY, **extra)
    return only_order(
        build(catalogue, [request], list(resources), context=context, settings=settings)
    )


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        (practitioner_role("r", specialty=concept((AGB_SPECIALISM, "0100"))), PrescriberRole.GP),
        (practitioner_role("r", code=concept((UZI_ROLE, "01.015"))), PrescriberRole.GP),
        (practitioner_role("r", code=concept((SNOMED, "62247001"))), PrescriberRole.GP),
        (practitioner_role("r", specialty={"text": "Huisarts"}), PrescriberRole.GP),
        (
            practitioner_role("r", specialty=concept((AGB_SPECIALISM, "0303", "Chirurgie"))),
            PrescriberRole.SPECIALIST,
        ),
        (practitioner_role("r", code=concept((UZI_ROLE, "01.010"))), PrescriberRole.SPECIALIST),
    ],
)
def test_role_from_practitioner_role_codes(
    catalogue: Catalogue, role: dict[str, Any], expected: PrescriberRole
) -> None:
    order = _order_by(catalogue, "PractitionerRole/r", role)
    assert order.prescriber_role is expected
    assert order.prescriber_role_source is RoleSource.REQUESTER


def test_hospital_organisation_makes_a_specialist(catalogue: Catalogue) -> None:
    hospital = {
        "resourceType": "Organization",
        "id": "meander",
        "type": [concept(("urn:oid:2.16.840.1.113883.2.4.15.1060", "V4", "Ziekenhuis"))],
        "name": "Meander Medisch Centrum",
    }
    order = _order_by(
        catalogue,
        "PractitionerRole/r",
        practitioner_role("r", organization="Organization/meander"),
        hospital,
    )
    assert order.prescriber_role is PrescriberRole.SPECIALIST
    assert order.prescriber_role_source is RoleSource.ORGANISATION


def test_practitioner_requester_uses_its_roles_and_agb(catalogue: Catalogue) -> None:
    practitioner = {
        "resourceType": "Practitioner",
        "id": "doc",
        "identifier": [{"system": AGB, "value": "03111111"}],
    }
    role = practitioner_role(
        "r", practitioner="Practitioner/doc", specialty=concept((AGB_SPECIALISM, "0100"))
    )
    order = _order_by(catalogue, "Practitioner/doc", practitioner, role)
    assert order.prescriber_role is PrescriberRole.GP  # the role code beats the AGB prefix
    assert order.requester_agb == "03111111"
    alone = _order_by(catalogue, "Practitioner/doc", practitioner)
    assert alone.prescriber_role is PrescriberRole.SPECIALIST  # AGB 03…: medisch specialist


def test_unknown_requester_falls_back_to_the_user_then_the_assumption(catalogue: Catalogue) -> None:
    specialist = practitioner_role("user", specialty=concept((AGB_SPECIALISM, "0303")))
    by_user = _order_by(catalogue, None, specialist, context={"userId": "PractitionerRole/user"})
    assert (by_user.prescriber_role, by_user.prescriber_role_source) == (
        PrescriberRole.SPECIALIST,
        RoleSource.USER,
    )
    assumed = _order_by(catalogue, "PractitionerRole/nowhere")
    assert (assumed.prescriber_role, assumed.prescriber_role_source) == (
        PrescriberRole.GP,
        RoleSource.ASSUMED,
    )
    unknown = _order_by(catalogue, None, settings=FactSettings(assume_gp_when_unknown=False))
    assert (unknown.prescriber_role, unknown.prescriber_role_source) == (
        PrescriberRole.UNKNOWN,
        RoleSource.NONE,
    )


def test_user_role_of_the_sandbox_practitioner(catalogue: Catalogue) -> None:
    practitioner = {"resourceType": "Practitioner", "id": "COREPRACTITIONER1"}
    role = practitioner_role(
        "r1", practitioner="Practitioner/COREPRACTITIONER1", code=concept((UZI_ROLE, "01.015"))
    )
    facts = build(
        catalogue, [], [practitioner, role], context={"userId": "Practitioner/COREPRACTITIONER1"}
    )
    assert facts.user_role is PrescriberRole.GP
    assert facts.user_ref == "Practitioner/COREPRACTITIONER1"


def test_user_practitioner_roles_count_without_a_practitioner_resource(
    catalogue: Catalogue,
) -> None:
    # The sandbox sends userId Practitioner/X and only the practitionerRoles prefetch.
    surgeon = practitioner_role(
        "r1", practitioner="Practitioner/X", code=concept((SNOMED, "22731001"))
    )
    other = practitioner_role(
        "r2", practitioner="Practitioner/Y", code=concept((UZI_ROLE, "01.015"))
    )
    order = _order_by(catalogue, None, surgeon, other, context={"userId": "Practitioner/X"})
    assert (order.prescriber_role, order.prescriber_role_source) == (
        PrescriberRole.SPECIALIST,
        RoleSource.USER,
    )


def test_next_practitioner_of_a_draft(catalogue: Catalogue) -> None:
    gp = practitioner_role("gp", specialty=concept((AGB_SPECIALISM, "0100")))
    request = med_request(
        "o",
        OXY,
        extension=[
            {"url": NEXT_PRACTITIONER, "valueReference": {"reference": "PractitionerRole/gp"}}
        ],
    )
    order = only_order(build(catalogue, [request], [gp]))
    assert order.next_practitioner is not None
    assert order.next_practitioner.role is PrescriberRole.GP
    assert order.next_practitioner.reference == "PractitionerRole/gp"
