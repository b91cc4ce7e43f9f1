"""Facts from FHIR JSON: the facts builder over resources written with `fhir_fixtures.builders`
(the resources follow the facts of docs/definitions.md: codes, doses, expected values)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from cds_hooks.draft_orders import DraftOrders
from fhir_fixtures.builders import Json
from rules.catalogue import Catalogue
from rules.facts import Facts, FactSettings, OrderFacts, build_facts

TODAY = date(2024, 3, 1)


def build(
    catalogue: Catalogue,
    drafts: Sequence[Mapping[str, Any]] = (),
    resources: Sequence[Mapping[str, Any]] = (),
    *,
    hook: str = "order-sign",
    context: Mapping[str, Any] | None = None,
    today: date = TODAY,
    settings: FactSettings | None = None,
) -> Facts:
    return build_facts(
        hook=hook,
        context=context if context is not None else {"patientId": "p1"},
        draft_orders=DraftOrders.from_resources(drafts),
        resources=resources,
        today=today,
        catalogue=catalogue,
        settings=settings or FactSettings(),
    )


def only_order(facts: Facts) -> OrderFacts:
    assert len(facts.orders) == 1, facts.orders
    return facts.orders[0]


def order_of(catalogue: Catalogue, request: Json, *extra: Mapping[str, Any]) -> OrderFacts:
    """Facts of one drafted request (extra resources: its Medication, PractitionerRole...)."""
    return only_order(build(catalogue, [request], list(extra)))
