"""`cds_hooks.draft_orders`: draftOrders read once, with one order id per MedicationRequest."""

from __future__ import annotations

from typing import Any

from cds_hooks.contexts import validate_context
from cds_hooks.draft_orders import DraftOrders, order_id


def _request(ident: str | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {"resourceType": "MedicationRequest", "status": "draft"}
    if ident is not None:
        resource["id"] = ident
    return resource


def test_entries_keep_their_full_urls_and_skip_entries_without_a_resource() -> None:
    medication = {"resourceType": "Medication", "id": "med-1"}
    first, second = _request("a"), _request()
    drafts = DraftOrders.from_entries(
        [
            {"fullUrl": "urn:uuid:1", "resource": first},
            {"fullUrl": "urn:uuid:2"},
            "not an entry",
            {"resource": "not a resource"},
            {"fullUrl": "", "resource": medication},
            {"fullUrl": "urn:uuid:3", "resource": second},
        ]
    )
    assert drafts.entries == ((first, "urn:uuid:1"), (medication, None), (second, "urn:uuid:3"))
    assert drafts.resources == [first, medication, second]
    assert [(d.resource, d.full_url) for d in drafts.medication_requests] == [
        (first, "urn:uuid:1"),
        (second, "urn:uuid:3"),
    ]


def test_order_ids_are_the_id_or_the_position_among_the_draft_medication_requests() -> None:
    drafts = DraftOrders.from_resources(
        [
            _request(),
            {"resourceType": "Medication"},
            _request("with-id"),
            _request(),
            {"resourceType": "MedicationRequest", "id": ""},
        ]
    )
    assert [d.order_id for d in drafts.medication_requests] == [
        "MedicationRequest/#0",
        "MedicationRequest/with-id",
        "MedicationRequest/#2",
        "MedicationRequest/#3",
    ]
    assert order_id(_request("x"), 5) == "MedicationRequest/x"


def test_read_from_a_checked_context() -> None:
    base = {"userId": "Practitioner/gp-1", "patientId": "pat-1"}
    sign = validate_context(
        "order-sign",
        {**base, "draftOrders": {"resourceType": "Bundle", "entry": {"resource": _request("a")}}},
    )
    assert [d.order_id for d in DraftOrders.of(sign).medication_requests] == ["MedicationRequest/a"]
    view = validate_context("patient-view", base)
    assert DraftOrders.of(view) == DraftOrders()


def test_read_leniently_from_unchecked_json() -> None:
    request = _request("a")
    bundle = {"resourceType": "Bundle", "entry": [{"fullUrl": "urn:uuid:1", "resource": request}]}
    assert DraftOrders.from_json(bundle).entries == ((request, "urn:uuid:1"),)
    assert DraftOrders.from_json([request, 7]).entries == ((request, None),)
    for value in (None, "x", {"entry": "x"}, 3):
        assert DraftOrders.from_json(value) == DraftOrders()
