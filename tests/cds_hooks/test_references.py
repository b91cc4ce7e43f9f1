"""`cds_hooks.references`: every reference form, resolved the one way prefetch and facts use."""

from __future__ import annotations

from typing import Any

import pytest

from cds_hooks.references import References, reference_key

UUID = "urn:uuid:6f1c2a4e-8f7b-4c3d-9a51-0d2e7b6c1f90"
OTHER_UUID = "urn:uuid:1d2c3b4a-0000-4000-8000-00000000abcd"
OID = "urn:oid:2.16.528.1.1007.3.1.12345"
BASE = "https://fhir.example.nl/r4"

# draftOrders entries (resource, fullUrl)
URN_MED = {"resourceType": "Medication", "id": "med-1", "code": {"text": "Oxycodon"}}
OID_MED = {"resourceType": "Medication", "id": "med-oid", "code": {"text": "Tramadol"}}
ABSOLUTE_MED = {"resourceType": "Medication", "id": "local-7", "code": {"text": "Morfine"}}
ID_LESS_MED = {"resourceType": "Medication", "code": {"text": "Fentanyl"}}
DRAFT_PATIENT = {"resourceType": "Patient", "id": "pat-1", "birthDate": "1960-01-01"}
# prefetched resources (no fullUrls)
PREFETCHED_PATIENT = {"resourceType": "Patient", "id": "pat-1", "birthDate": "1999-09-09"}
PRACTITIONER = {"resourceType": "Practitioner", "id": "gp-1"}
UUID_ID_MED = {"resourceType": "Medication", "id": OTHER_UUID.removeprefix("urn:uuid:")}
TWIN_A = {"resourceType": "Medication", "id": "twin"}
TWIN_B = {"resourceType": "Condition", "id": "twin"}
CONTAINER = {
    "resourceType": "MedicationRequest",
    "contained": [{"resourceType": "Medication", "id": "c1"}, "not an object"],
}
OUTER = {
    "resourceType": "MedicationRequest",
    "contained": [{"resourceType": "Medication", "id": "c2"}],
}

ENTRIES: list[tuple[dict[str, Any], str | None]] = [
    (URN_MED, UUID),
    (OID_MED, OID),
    (ABSOLUTE_MED, f"{BASE}/Medication/bundled-7"),
    (ID_LESS_MED, f"{BASE}/Medication/no-id-9"),
    (DRAFT_PATIENT, None),
]
RESOURCES = [PREFETCHED_PATIENT, PRACTITIONER, UUID_ID_MED, TWIN_A, TWIN_B]


@pytest.fixture
def references() -> References:
    return References(ENTRIES, RESOURCES)


@pytest.mark.parametrize(
    ("reference", "containers", "expected"),
    [
        # contained, in the given containers only, the referring resource first
        ("#c1", (CONTAINER,), CONTAINER["contained"][0]),
        ("#c2", (CONTAINER, OUTER), OUTER["contained"][0]),
        ("#c1", (), None),
        ("#missing", (CONTAINER,), None),
        ("#", (CONTAINER,), None),
        # urn:uuid / urn:oid: the entry's fullUrl, whatever the resource's id
        (UUID, (), URN_MED),
        (OID, (), OID_MED),
        ("urn:uuid:00000000-0000-4000-8000-000000000000", (), None),
        # ... else a resource whose id is the uuid (a client that sends no fullUrls)
        (OTHER_UUID, (), UUID_ID_MED),
        ("urn:uuid:twin", (), None),  # two resources share the id: it names neither
        ("urn:isbn:twin", (), None),
        # relative Type/id, versioned or not; drafts before prefetched resources
        ("Medication/med-1", (), URN_MED),
        ("Medication/med-1/_history/3", (), URN_MED),
        ("Patient/pat-1", (), DRAFT_PATIENT),
        ("Practitioner/gp-1", (), PRACTITIONER),
        ("Condition/twin", (), TWIN_B),
        ("Medication/unknown", (), None),
        ("Practitioner/med-1", (), None),
        ("med-1", (), None),
        # against the base of an absolute fullUrl
        ("Medication/bundled-7", (), ABSOLUTE_MED),
        ("Medication/no-id-9", (), ID_LESS_MED),
        # absolute: the entry's fullUrl first, else its Type/id
        (f"{BASE}/Medication/bundled-7", (), ABSOLUTE_MED),
        (f"{BASE}/Medication/no-id-9/_history/2", (), ID_LESS_MED),
        ("https://elsewhere.example.com/fhir/Practitioner/gp-1", (), PRACTITIONER),
        ("https://elsewhere.example.com/fhir/Medication/local-7/_history/1", (), ABSOLUTE_MED),
        ("https://elsewhere.example.com/fhir/Medication/nope", (), None),
        # not a reference
        ("", (), None),
        (None, (), None),
        (42, (), None),
    ],
)
def test_resolve(
    references: References,
    reference: object,
    containers: tuple[dict[str, Any], ...],
    expected: dict[str, Any] | None,
) -> None:
    assert references.resolve(reference, *containers) is expected


def test_resources_added_later_resolve_and_do_not_replace_earlier_ones() -> None:
    references = References(ENTRIES)
    assert references.resolve("Practitioner/gp-1") is None
    references.add([PRACTITIONER, PREFETCHED_PATIENT, "not a resource"])
    assert references.resolve("Practitioner/gp-1") is PRACTITIONER
    assert references.resolve("Patient/pat-1") is DRAFT_PATIENT


@pytest.mark.parametrize(
    ("reference", "key"),
    [
        ("Practitioner/1", "Practitioner/1"),
        ("Practitioner/1/_history/2", "Practitioner/1"),
        ("https://x/fhir/Practitioner/1/_history/2", "Practitioner/1"),
        ("https://x/fhir/Practitioner/1/", "Practitioner/1"),
        ("#c1", "#c1"),
        (UUID, UUID),
        ("pat-1", "pat-1"),
    ],
)
def test_reference_key(reference: str, key: str) -> None:
    assert reference_key(reference) == key
