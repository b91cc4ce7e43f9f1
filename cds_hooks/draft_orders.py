"""`context.draftOrders`, read once per call.

    drafts = DraftOrders.of(context)        # a validated HookContext
    drafts.entries                          # (resource, fullUrl) per entry that has a resource
    drafts.medication_requests              # DraftRequest(resource, full_url, order_id)

Everything after the context check (prefetch, facts, engine) takes this, not the Bundle.
The order id of a draft MedicationRequest is decided here and only here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cds_hooks.contexts import HookContext, OrderSignContext

__all__ = ["DraftOrders", "DraftRequest", "order_id"]

Resource = Mapping[str, Any]


def order_id(resource: Resource, number: int) -> str:
    """`MedicationRequest/<id>`, or `MedicationRequest/#<n>` for the n-th (from 0) draft
    MedicationRequest of the Bundle when it has no id."""
    ident = resource.get("id")
    if isinstance(ident, str) and ident:
        return f"MedicationRequest/{ident}"
    return f"MedicationRequest/#{number}"


@dataclass(frozen=True, slots=True)
class DraftRequest:
    resource: Resource
    full_url: str | None
    order_id: str


@dataclass(frozen=True, slots=True)
class DraftOrders:
    entries: tuple[tuple[Resource, str | None], ...] = ()
    """Each entry that carries a resource, in Bundle order, with its fullUrl (or None)."""
    medication_requests: tuple[DraftRequest, ...] = ()
    """The MedicationRequests among them, each with its order id."""

    @classmethod
    def of(cls, context: HookContext) -> DraftOrders:
        """The draft orders of a context that has them (none for other hooks)."""
        if not isinstance(context, OrderSignContext):
            return cls()
        return cls.from_entries(context.draft_orders.entry)

    @classmethod
    def from_json(cls, value: object) -> DraftOrders:
        """From an unchecked `draftOrders` value: a Bundle, or leniently a list of resources."""
        if isinstance(value, Mapping):
            entries = value.get("entry")
            return cls.from_entries(entries if isinstance(entries, list) else [])
        if isinstance(value, list):
            return cls.from_resources(value)
        return cls()

    @classmethod
    def from_entries(cls, entries: Sequence[object]) -> DraftOrders:
        """From Bundle entries; entries without a resource object are skipped."""
        read: list[tuple[Resource, str | None]] = []
        for entry in entries:
            if not isinstance(entry, Mapping):
                continue
            resource = entry.get("resource")
            if not isinstance(resource, Mapping):
                continue
            full_url = entry.get("fullUrl")
            read.append((resource, full_url if isinstance(full_url, str) and full_url else None))
        return cls._of(read)

    @classmethod
    def from_resources(cls, resources: Sequence[object]) -> DraftOrders:
        """From bare resources (tools and tests that have no Bundle): no fullUrls."""
        return cls._of([(r, None) for r in resources if isinstance(r, Mapping)])

    @classmethod
    def _of(cls, entries: list[tuple[Resource, str | None]]) -> DraftOrders:
        requests: list[DraftRequest] = []
        for resource, full_url in entries:
            if resource.get("resourceType") == "MedicationRequest":
                requests.append(DraftRequest(resource, full_url, order_id(resource, len(requests))))
        return cls(tuple(entries), tuple(requests))

    @property
    def resources(self) -> list[Resource]:
        return [resource for resource, _ in self.entries]
