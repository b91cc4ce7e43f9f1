"""Prefetch template rendering (CDS Hooks 2.0 §Prefetch tokens)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cds_hooks.prefetch import USER_TOKENS, render_template
from rules.hooks import SPEC_BY_HOOK

CONTEXT: dict[str, Any] = {
    "patientId": "pat-1",
    "userId": "Practitioner/gp-1",
    "encounterId": "enc-9",
}


def test_context_token_is_filled() -> None:
    assert (
        render_template("MedicationRequest?patient={{context.patientId}}&_count=100", CONTEXT)
        == "MedicationRequest?patient=pat-1&_count=100"
    )


def test_read_template_is_filled() -> None:
    assert render_template("Patient/{{context.patientId}}", CONTEXT) == "Patient/pat-1"


def test_spaces_inside_the_braces_are_tolerated() -> None:
    assert render_template("Patient/{{ context.patientId }}", CONTEXT) == "Patient/pat-1"


def test_template_without_tokens_is_unchanged() -> None:
    assert render_template("Medication?code=http://x|1", CONTEXT) == "Medication?code=http://x|1"


@pytest.mark.parametrize(
    ("user_id", "token", "expected"),
    [
        ("Practitioner/gp-1", "userPractitionerId", "gp-1"),
        ("PractitionerRole/role-7", "userPractitionerRoleId", "role-7"),
        ("Patient/pat-1", "userPatientId", "pat-1"),
        ("RelatedPerson/rp-3", "userRelatedPersonId", "rp-3"),
        ("https://ehr.example/fhir/Practitioner/gp-2", "userPractitionerId", "gp-2"),
    ],
)
def test_user_tokens_come_from_user_id(user_id: str, token: str, expected: str) -> None:
    rendered = render_template(f"X?who={{{{{token}}}}}", {"userId": user_id})
    assert rendered == f"X?who={expected}"


@pytest.mark.parametrize("token", sorted(USER_TOKENS))
def test_user_token_of_another_type_cannot_be_filled(token: str) -> None:
    other = "Device/d-1"
    assert render_template(f"X?who={{{{{token}}}}}", {"userId": other}) is None


def test_practitioner_token_for_a_practitioner_role_user_cannot_be_filled() -> None:
    context = {"userId": "PractitionerRole/role-7"}
    assert render_template("PractitionerRole?practitioner={{userPractitionerId}}", context) is None


@pytest.mark.parametrize(
    "template",
    [
        "Patient/{{context.missing}}",
        "Medication/{{context.medication.id}}",  # not first-level: invalid per spec
        "Observation?date=ge{{today() - 90 days}}",  # CI-only FHIRPath token
        "Patient/{{context.}}",
        "Patient/{{context.patientId}",
    ],
)
def test_tokens_that_cannot_be_filled_give_none(template: str) -> None:
    assert render_template(template, {**CONTEXT, "medication": {"id": "m"}}) is None


@pytest.mark.parametrize("value", [{"a": 1}, ["x"], None, ""])
def test_non_primitive_or_empty_context_values_cannot_be_tokens(value: Any) -> None:
    assert render_template("X?v={{context.v}}", {"v": value}) is None


def test_primitive_values_are_rendered_as_text() -> None:
    context = {"flag": True, "number": 7, "ratio": 0.5}
    rendered = render_template(
        "X?a={{context.flag}}&b={{context.number}}&c={{context.ratio}}", context
    )
    assert rendered == "X?a=true&b=7&c=0.5"


def test_values_cannot_add_parameters_or_path_segments() -> None:
    context = {"patientId": "1&_include=*#x", "userId": "Practitioner/gp-1"}
    rendered = render_template("MedicationRequest?patient={{context.patientId}}&_count=5", context)
    assert rendered is not None
    assert parse_qs(urlsplit(rendered).query) == {"patient": ["1&_include=*#x"], "_count": ["5"]}
    assert render_template("Patient/{{context.patientId}}", {"patientId": "../Practitioner/1"}) == (
        "Patient/..%2FPractitioner%2F1"
    )


@given(st.text(min_size=1, max_size=40))
def test_any_context_value_round_trips_as_one_parameter(value: str) -> None:
    rendered = render_template(
        "Condition?patient={{context.patientId}}&_count=100", {"patientId": value}
    )
    assert rendered is not None
    query = urlsplit(rendered).query
    pairs = [part.split("=", 1) for part in query.split("&")]
    assert [name for name, _ in pairs] == ["patient", "_count"]
    assert unquote(pairs[0][1]) == value


@pytest.mark.parametrize("hook", sorted(SPEC_BY_HOOK))
def test_every_template_of_the_service_renders_for_a_sandbox_context(hook: str) -> None:
    for key, template in SPEC_BY_HOOK[hook].prefetch.items():
        rendered = render_template(template, CONTEXT)
        assert rendered is not None, key
        assert "{{" not in rendered and "}}" not in rendered
