"""Prefetch resolves medicationReferences with `cds_hooks.references`, as the facts do."""

from __future__ import annotations

from typing import Any

import pytest

from cds_hooks.draft_orders import DraftOrders
from cds_hooks.prefetch import resolve_prefetch
from tests.sample_requests import draft_order, resolver_request

pytestmark = pytest.mark.anyio

UUID = "urn:uuid:6f1c2a4e-8f7b-4c3d-9a51-0d2e7b6c1f90"
OTHER_UUID = "urn:uuid:1d2c3b4a-0000-4000-8000-00000000abcd"
ABSOLUTE = "https://fhir.example.nl/r4/Medication/no-id-9"


async def test_prefetch_resolves_draft_medication_references_locally_like_the_facts() -> None:
    """No fhirServer: whatever the resolver finds is not unresolved; the rest is."""
    entries: list[dict[str, Any]] = [
        {"resource": draft_order("d-urn", medicationReference={"reference": UUID})},
        {"fullUrl": UUID, "resource": {"resourceType": "Medication", "id": "med-1"}},
        {"resource": draft_order("d-absolute", medicationReference={"reference": ABSOLUTE})},
        {"fullUrl": ABSOLUTE, "resource": {"resourceType": "Medication"}},
        {"resource": draft_order("d-urn-missing", medicationReference={"reference": OTHER_UUID})},
        {"resource": draft_order("d-absent", medicationReference={"reference": "Medication/x"})},
    ]
    request = resolver_request(draft_entries=entries)
    drafts = DraftOrders.from_entries(entries)

    resolved = await resolve_prefetch(request, {}, frozenset(), None, 1.0, draft_orders=drafts)

    assert resolved.unresolved_references == {OTHER_UUID, "Medication/x"}
