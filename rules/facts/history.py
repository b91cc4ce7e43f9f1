"""Reading the medication history: requests, dispenses and statements into `OpioidExposure`s,
and the sedatives in use."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from rules.facts.durations import (
    dispense_supply,
    interval_end,
    period_of_use,
    statement_period,
)
from rules.facts.fhir_access import (
    as_str,
    dicts,
    extensions,
    parse_date,
    reference_of,
)
from rules.facts.model import (
    ActiveMedication,
    ExposureSource,
    MedicationFacts,
    OpioidExposure,
    PrescriberRole,
    Problem,
)
from rules.facts.orders import RequestReading, read_request
from rules.facts.reading import ReadingContext, resource_ref

JsonDict = Mapping[str, Any]
MEDICATION_USE_PRESCRIBER_URL = (
    "http://nictiz.nl/fhir/StructureDefinition/ext-MedicationUse2.Prescriber"
)


# --------------------------------------------------------------------------- history
@dataclass(slots=True)
class HistoryReading:
    exposures: list[OpioidExposure] = field(default_factory=list)
    replaced_by_agreement: set[str] = field(default_factory=set)
    sedatives: list[ActiveMedication] = field(default_factory=list)


def exposure_from_request(ctx: ReadingContext, request: RequestReading) -> OpioidExposure:
    found = request.durations_
    start = found.start or request.authored_on
    today = ctx.today
    indefinite = found.indefinite and not request.stopped
    end: date | None
    if indefinite:
        end = max(today, start) if start else None
    else:
        end = interval_end(start, request.total_days)
    duration_known = request.total_days is not None or indefinite
    is_active = (
        request.status == "active"
        and not request.stopped
        and (start is None or start <= today)
        and (not duration_known or (end is not None and end >= today))
    )
    return OpioidExposure(
        source=ExposureSource.MEDICATION_REQUEST,
        ref=request.ref,
        substances=ctx.substance_keys(request.medication),
        product_display=request.medication.product_display,
        prescribed_on=request.authored_on or start,
        start=start,
        end=end,
        indefinite=indefinite,
        prescriber_id=request.requester.person_id,
        prescriber_role=request.requester.role,
        pharmacy_id=request.pharmacy_id,
        is_oat=request.is_oat,
        is_active=is_active,
        release_type=request.medication.release_type,
        ome_mg_per_day=request.dosage.ome_mg_per_day,
        ome_not_computable_reason=request.dosage.ome_reason,
        next_practitioner=request.next_practitioner,
        has_handover=ctx.has_handover(request.next_practitioner),
    )


def read_dispense(
    ctx: ReadingContext, resource: JsonDict, fallback_id: str, history: HistoryReading
) -> OpioidExposure | None:
    clinical = ctx.catalogue.clinical
    if as_str(resource.get("status")) in clinical.excluded_dispense_statuses:
        return None
    medication, _ = ctx.recognise(resource)
    cat = ctx.catalogue
    if medication.is_sedative:
        # A sedative handed over is active on [whenHandedOver, + daysSupply - 1].
        handed_over = parse_date(resource.get("whenHandedOver"))
        supply_days = dispense_supply(cat, resource, None, medication).days_supply
        last = interval_end(handed_over, supply_days) if supply_days else None
        if handed_over is not None and last is not None and handed_over <= ctx.today <= last:
            ref = resource_ref(resource, "MedicationDispense", fallback_id)
            history.sedatives.append(active_medication(ref, medication, is_draft=False))
        return None
    if not medication.is_opioid:
        return None
    dosage = ctx.regimen(resource.get("dosageInstruction"), medication)
    supply = dispense_supply(cat, resource, dosage, medication)
    start, days = supply.start, supply.days
    indefinite = False
    if start is None:
        # An MP9 administration agreement hands nothing over: its period of use is the use
        # (definitions §1 History); only a start means use for an indefinite period.
        use = period_of_use(cat, resource)
        if use is not None and use.start is not None:
            start, indefinite = use.start, use.indefinite
            days = use.days if use.days is not None else days
    prescription: RequestReading | None = None
    for item in dicts(resource.get("authorizingPrescription")):
        request = ctx.index.resolve(reference_of(item), resource)
        if request is not None and as_str(request.get("resourceType")) == "MedicationRequest":
            prescription = read_request(ctx, request, "authorizing", full=False)
            break
    pharmacy = None
    for performer in dicts(resource.get("performer")):
        actor = ctx.actor(performer.get("actor"), resource)
        pharmacy = actor.organisation_id or actor.person_id
        if pharmacy:
            break
    if pharmacy is None and resource.get("location") is not None:
        pharmacy = ctx.actor(resource.get("location"), resource).person_id
    end = (
        max(ctx.today, start)
        if indefinite and start is not None
        else interval_end(start, days if days is not None else 1)
    )
    return OpioidExposure(
        source=ExposureSource.MEDICATION_DISPENSE,
        ref=resource_ref(resource, "MedicationDispense", fallback_id),
        substances=tuple(s.key for s in medication.substances),
        product_display=medication.product_display,
        prescribed_on=start,
        start=start,
        end=end,
        indefinite=indefinite,
        prescriber_id=prescription.requester.person_id if prescription else None,
        prescriber_role=prescription.requester.role if prescription else PrescriberRole.UNKNOWN,
        pharmacy_id=pharmacy,
        is_oat=medication.is_oat_product or bool(prescription and prescription.is_oat),
        is_active=end is not None and start is not None and start <= ctx.today <= end,
        release_type=medication.release_type,
        ome_mg_per_day=dosage.ome_mg_per_day,
        ome_not_computable_reason=dosage.ome_reason,
        next_practitioner=None,
        has_handover=False,
    )


def read_statement(
    ctx: ReadingContext, resource: JsonDict, fallback_id: str, history: HistoryReading
) -> OpioidExposure | None:
    clinical = ctx.catalogue.clinical
    status = as_str(resource.get("status"))
    if status in clinical.excluded_statement_statuses:
        return None
    medication, _ = ctx.recognise(resource)
    ref = resource_ref(resource, "MedicationStatement", fallback_id)
    if medication.is_sedative and status == "active":
        history.sedatives.append(active_medication(ref, medication, is_draft=False))
    if not medication.is_opioid:
        return None
    used = statement_period(ctx.catalogue, resource, status == "active", ctx.today)
    start, end, ongoing = used.start, used.end, used.ongoing
    dosage = ctx.regimen(resource.get("dosage"), medication)
    prescriber = None
    for extension in extensions(resource, MEDICATION_USE_PRESCRIBER_URL):
        prescriber = ctx.actor(extension.get("valueReference"), resource)
    return OpioidExposure(
        source=ExposureSource.MEDICATION_STATEMENT,
        ref=ref,
        substances=tuple(s.key for s in medication.substances),
        product_display=medication.product_display,
        prescribed_on=start,
        start=start,
        end=end,
        indefinite=ongoing,
        prescriber_id=prescriber.person_id if prescriber else None,
        prescriber_role=prescriber.role if prescriber else PrescriberRole.UNKNOWN,
        pharmacy_id=None,
        is_oat=medication.is_oat_product,
        is_active=status == "active" and (end is None or end >= ctx.today),
        release_type=medication.release_type,
        ome_mg_per_day=dosage.ome_mg_per_day,
        ome_not_computable_reason=dosage.ome_reason,
        next_practitioner=None,
        has_handover=False,
    )


def active_medication(
    ref: str, medication: MedicationFacts, *, is_draft: bool, selected: bool = False
) -> ActiveMedication:
    return ActiveMedication(
        ref=ref,
        display=medication.product_display,
        sedative_class=medication.sedative_class,
        substances=tuple(s.key for s in medication.substances),
        is_draft=is_draft,
        selected=selected,
    )


def read_history_request(
    ctx: ReadingContext, resource: JsonDict, fallback_id: str, history: HistoryReading
) -> OpioidExposure | None:
    clinical = ctx.catalogue.clinical
    if as_str(resource.get("status")) in clinical.excluded_request_statuses:
        return None
    if as_str(resource.get("intent")) in clinical.excluded_request_intents:
        return None
    medication, _ = ctx.recognise(resource)
    if medication.is_sedative:
        if as_str(resource.get("status")) == "active" and not ctx.is_stopped(resource):
            ref = resource_ref(resource, "MedicationRequest", fallback_id)
            history.sedatives.append(active_medication(ref, medication, is_draft=False))
        return None
    if not medication.is_opioid:
        return None  # not relevant: do not read the rest
    request = read_request(ctx, resource, fallback_id, full=False)
    if (
        request.based_on
        and ctx.is_dispense_request(resource)
        and any(
            ctx.index.resolve(reference, resource) is not None for reference in request.based_on
        )
    ):
        # The supply of an agreement that is itself in the history: its OME is the agreement's.
        history.replaced_by_agreement.add(request.ref)
    return exposure_from_request(ctx, request)


def read_history(ctx: ReadingContext, draft_ids: set[str]) -> HistoryReading:
    """Prior exposures from the history resources (the index holds them by type)."""
    history = HistoryReading()
    items = [
        (kind, position, resource)
        for kind in ("MedicationRequest", "MedicationDispense", "MedicationStatement")
        for position, resource in ctx.index.history.get(kind, ())
    ]
    for kind, position, resource in items:
        ref = resource_ref(resource, kind, f"h{position}")
        if ref in draft_ids:
            continue
        try:
            exposure: OpioidExposure | None
            if kind == "MedicationRequest":
                exposure = read_history_request(ctx, resource, f"h{position}", history)
            elif kind == "MedicationDispense":
                exposure = read_dispense(ctx, resource, f"h{position}", history)
            else:
                exposure = read_statement(ctx, resource, f"h{position}", history)
        except Exception as exc:
            ctx.problems.append(Problem(kind, f"not readable ({type(exc).__name__})", ref))
            continue
        if exposure is not None:
            history.exposures.append(exposure)
    history.exposures.sort(key=lambda e: (e.prescribed_on or date.min, e.ref))
    return history
