"""Facts builder: draft orders, prefetched resources and hook context → ``rules.facts.Facts``.

One pass over plain (orjson-parsed) JSON; no FHIR library objects. Every definition follows
definitions.md §1. The builder never raises on any JSON input: each resource is read defensively,
and a resource that still fails is reported in ``Facts.problems`` and skipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, TypeVar

from cds_hooks.draft_orders import DraftOrders
from cds_hooks.references import reference_key
from rules.catalogue import Catalogue
from rules.facts.fhir_access import (
    MAX_NESTING,
    as_dict,
    as_list,
    nested_deeper_than,
)
from rules.facts.history import read_history
from rules.facts.model import (
    Facts,
    FactSettings,
    OrderFacts,
    Problem,
    ProblemReason,
)
from rules.facts.orders import merge_dispense_requests, order_facts
from rules.facts.patient import encounter_indications, patient_facts
from rules.facts.reading import ReadingContext
from rules.hooks import SPEC_BY_HOOK

__all__ = ["build_facts"]

JsonDict = Mapping[str, Any]
_T = TypeVar("_T")


# --------------------------------------------------------------------------- assembly
def _selections(hook: str, context: JsonDict) -> frozenset[str] | None:
    """The orders the clinician selected, for a hook whose rules judge only those."""
    spec = SPEC_BY_HOOK.get(hook)
    if spec is None or not spec.judges_selected_orders_only:
        return None
    raw = context.get("selections")
    selections = frozenset(reference_key(s) for s in as_list(raw) if isinstance(s, str))
    # A client that sends no selections gets every draft evaluated (lenient, never a 400).
    return selections or None


def build_facts(
    *,
    hook: str,
    context: Mapping[str, Any],
    draft_orders: DraftOrders,
    resources: Sequence[Mapping[str, Any]],
    today: date,
    catalogue: Catalogue,
    settings: FactSettings,
) -> Facts:
    """All facts of one call, in one pass. Never raises on any JSON input.

    ``resources`` are the prefetched/fetched resources, flattened out of Bundles;
    ``draft_orders`` context.draftOrders as read once (``cds_hooks.draft_orders``)."""
    context = as_dict(context)
    history_in = list(as_list(resources))
    ctx = ReadingContext(
        hook=hook if isinstance(hook, str) else "",
        context=context,
        drafts=draft_orders,
        resources=history_in,
        today=today,
        catalogue=catalogue,
        settings=settings,
    )
    requests = draft_orders.medication_requests
    draft_ids = {draft.order_id for draft in requests}
    for draft in requests:
        if nested_deeper_than(draft.resource, MAX_NESTING):
            ctx.problems.append(
                Problem("draft order", ProblemReason.NESTED_TOO_DEEP, draft.order_id)
            )
        requester = ctx.actor(draft.resource.get("requester"), draft.resource)
        ctx.current_orgs.update(
            v for v in (requester.organisation_ref, requester.organisation_id) if v
        )

    encounter_sets, encounter_codes = encounter_indications(ctx)
    selections = _selections(ctx.hook, context)
    orders: list[OrderFacts] = []
    merged = merge_dispense_requests(ctx, requests)
    drafted_stops: list[JsonDict] = []
    for resource, order_id, also_ids in merged:
        if ctx.is_stopped(resource):
            drafted_stops.append(resource)
            continue  # a drafted stop or pause is no prescription: no prescribing cards
        try:
            orders.append(
                order_facts(
                    ctx, resource, order_id, also_ids, encounter_sets, encounter_codes, selections
                )
            )
        except Exception as exc:
            ctx.problems.append(
                Problem("draft order", ProblemReason.UNREADABLE, order_id, type(exc).__name__)
            )

    history = read_history(ctx, draft_ids, drafted_stops)
    patient = patient_facts(ctx, history_in, history, orders)
    return Facts(
        hook=ctx.hook,
        today=today,
        orders=orders,
        patient=patient,
        user_ref=ctx.user_ref,
        user_role=ctx.user.role,
        encounter_ref=ctx.encounter_ref,
        problems=tuple(dict.fromkeys(ctx.problems)),
    )
