"""Small, valid CDS Hooks requests for the protocol and service tests, written with
`fhir_fixtures.builders`: a GP (gp-1) drafts oxycodon for pat-1."""

from __future__ import annotations

from typing import Any

from cds_hooks.models import HookRequest
from fhir_fixtures.builders import (
    PRK,
    Json,
    bundle,
    concept,
    dosage,
    fhir_authorization,
    med_request,
    patient,
)
from fhir_fixtures.builders import hook_request as build_hook_request

OXYCODONE_IR = concept((PRK, "102059", "OXYCODON TABLET 10MG"), text="Oxycodon tablet 10mg")


def draft_order(
    order_id: str = "draft-1", *, dosages: tuple[Json, ...] = (), **medication: Any
) -> Json:
    """A drafted order of pat-1: oxycodon unless `medication` names another
    (medicationCodeableConcept= or medicationReference=)."""
    return med_request(
        order_id,
        status="draft",
        patient="pat-1",
        authored="2026-11-22",
        dosages=dosages,
        **(medication or {"medicationCodeableConcept": OXYCODONE_IR}),
    )


def hook_request(hook: str = "order-sign", **context: Any) -> Json:
    """A request of a hook, with a draft order taken three times a day for the order hooks and
    a prefetched patient without history; `context` adds to (or replaces) the context."""
    return build_hook_request(
        hook,
        drafts=[draft_order(dosages=(dosage(frequency=3),))]
        if hook in ("order-sign", "order-select")
        else None,
        selections=["MedicationRequest/draft-1"] if hook == "order-select" else None,
        prefetch={
            "patient": patient("pat-1", birth_date="1960-04-02"),
            "medicationRequests": bundle(),
        },
        **context,
    )


def resolver_request(
    *,
    patient_id: str = "pat-1",
    fhir_server: str | None = None,
    access_token: str | None = None,
    prefetch: dict[str, Any] | None = None,
    draft_entries: list[Json] | None = None,
    user_id: str = "Practitioner/gp-1",
    hook: str = "order-sign",
) -> HookRequest:
    """The service's own model of a request, for the prefetch resolver: `draft_entries` are
    the draftOrders entries (one draft order unless given), no prefetch unless given."""
    entries = draft_entries if draft_entries is not None else [{"resource": draft_order()}]
    return HookRequest.model_validate(
        build_hook_request(
            hook,
            patient_id=patient_id,
            user_id=user_id,
            draftOrders=bundle(entries=entries, type=None),
            fhir_server=fhir_server,
            authorization=fhir_authorization(access_token) if access_token else None,
            prefetch=prefetch,
        )
    )
