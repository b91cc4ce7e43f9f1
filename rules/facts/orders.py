"""Reading MedicationRequests: a drafted order into `OrderFacts`, and the parts of a history
request its exposure needs. Nictiz MP9 agreement + dispense request pairs are merged here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, TypeVar

from cds_hooks.draft_orders import DraftRequest
from rules.facts.durations import (
    Durations,
    request_durations,
)
from rules.facts.elements import MEDICATION_REQUEST, MODIFIERS, unreadable_elements
from rules.facts.fhir_access import (
    as_dict,
    as_int,
    as_str,
    codings,
    concept_text,
    dicts,
    fields_of,
    parse_date,
    reference_of,
)
from rules.facts.medication import (
    Regimen,
)
from rules.facts.model import (
    MedicationFacts,
    NextPractitioner,
    OrderFacts,
    PrescriberRole,
    Problem,
    ProblemReason,
    RoleSource,
)
from rules.facts.reading import Actor, ReadingContext, resource_ref

JsonDict = Mapping[str, Any]
_T = TypeVar("_T")


# --------------------------------------------------------------------------- requests
class RequestReading:
    """A MedicationRequest read once; drafts and history both use it.

    A plain class rather than a dataclass: compiled, a dataclass's generated ``__init__``
    still runs as Python, and one of these is built for every opioid request of a history."""

    def __init__(
        self,
        *,
        ref: str,
        status: str | None,
        intent: str | None,
        medication: MedicationFacts,
        resolved: bool,
        dosage: Regimen,
        durations_: Durations,
        repeats: int,
        total_days: int | None,
        authored_on: date | None,
        requester: Actor,
        indication_codes: tuple[tuple[str, str], ...],
        indication_sets: frozenset[str],
        has_indication: bool,
        is_oat: bool,
        course: str | None,
        prior_ref: str | None,
        based_on: tuple[str, ...],
        next_practitioner: NextPractitioner | None,
        pharmacy_id: str | None,
        stopped: bool,
    ) -> None:
        self.ref = ref
        self.status = status
        self.intent = intent
        self.medication = medication
        self.resolved = resolved
        self.dosage = dosage
        self.durations_ = durations_
        self.repeats = repeats
        self.total_days = total_days
        self.authored_on = authored_on
        self.requester = requester
        self.indication_codes = indication_codes
        self.indication_sets = indication_sets
        self.has_indication = has_indication
        self.is_oat = is_oat
        self.course = course
        self.prior_ref = prior_ref
        self.based_on = based_on
        self.next_practitioner = next_practitioner
        self.pharmacy_id = pharmacy_id
        self.stopped = stopped


def read_request(
    ctx: ReadingContext, resource: JsonDict, fallback_id: str, *, full: bool = True
) -> RequestReading:
    """Read a MedicationRequest once per call. ``full=False`` (history) skips what only a
    drafted order needs: indication codes (unless they decide OAT) and course of therapy."""
    ref = resource_ref(resource, "MedicationRequest", fallback_id)
    return read_request_with_ref(ctx, resource, ref, full=full)


def read_request_with_ref(
    ctx: ReadingContext, resource: JsonDict, ref: str, *, full: bool
) -> RequestReading:
    """`read_request` of a request whose reference (`resource_ref`) the caller has made."""
    key = (id(resource), ref, full)
    found = ctx.requests_read.get(key)
    if found is None:
        found = ctx.requests_read[key] = read_request_once(ctx, resource, ref, full)
    return found


def indications(
    ctx: ReadingContext, resource: JsonDict
) -> tuple[tuple[tuple[str, str], ...], frozenset[str], bool]:
    """(codes, condition sets, any indication at all) of reasonCode and reasonReference."""
    codes: list[tuple[str, str]] = []
    sets: set[str] = set()
    has_indication = False
    for reason_code in dicts(resource.get("reasonCode")):
        has_indication = True
        codes.extend((system, code) for system, code, _ in codings(reason_code))
        sets |= ctx.condition_sets_of(reason_code)
    for reason in dicts(resource.get("reasonReference")):
        has_indication = True
        condition = ctx.index.resolve(reference_of(reason), resource)
        if condition is not None:
            condition_code = condition.get("code")
            codes.extend((system, code) for system, code, _ in codings(condition_code))
            sets |= ctx.condition_sets_of(condition_code)
    return tuple(dict.fromkeys(codes)), frozenset(sets), has_indication


def read_request_once(
    ctx: ReadingContext, resource: JsonDict, ref: str, full: bool
) -> RequestReading:
    cat = ctx.catalogue
    fields = fields_of(resource)  # read from; the resource itself is what the memos know
    medication, resolved = ctx.recognise(resource)
    dosage = ctx.regimen(fields.get("dosageInstruction"), medication)
    authored_on = parse_date(fields.get("authoredOn"))
    found = request_durations(cat, resource, dosage, medication, authored_on, every_source=full)
    dispense = fields_of(fields.get("dispenseRequest"))
    repeats = max(as_int(dispense.get("numberOfRepeatsAllowed")) or 0, 0)
    total = found.days * (1 + repeats) if found.days is not None else None
    oat_capable = ctx.oat_capable(medication)
    codes: tuple[tuple[str, str], ...] = ()
    sets: frozenset[str] = frozenset()
    has_indication = False
    if full or oat_capable:
        codes, sets, has_indication = indications(ctx, resource)
    is_oat = medication.is_opioid and (
        medication.is_oat_product or (oat_capable and "opioid_use_disorder" in sets)
    )
    course: str | None = None
    if full:
        course_codes = [code for _, code, _ in codings(fields.get("courseOfTherapyType"))]
        course_text = concept_text(fields.get("courseOfTherapyType"))
        course = (course_codes[0] if course_codes else None) or (
            course_text[0] if course_text else None
        )
    performer = (
        ctx.actor(dispense.get("performer"), resource) if dispense.get("performer") else None
    )
    has_extensions = "extension" in fields or "modifierExtension" in fields
    return RequestReading(
        ref=ref,
        status=as_str(fields.get("status")),
        intent=as_str(fields.get("intent")),
        medication=medication,
        resolved=resolved,
        dosage=dosage,
        durations_=found,
        repeats=repeats,
        total_days=total,
        authored_on=authored_on,
        requester=ctx.actor(fields.get("requester"), resource),
        indication_codes=codes,
        indication_sets=sets,
        has_indication=has_indication,
        is_oat=is_oat,
        course=course,
        prior_ref=reference_of(fields.get("priorPrescription")),
        based_on=tuple(r for item in dicts(fields.get("basedOn")) if (r := reference_of(item)))
        if "basedOn" in fields
        else (),
        next_practitioner=ctx.next_practitioner(resource) if has_extensions else None,
        pharmacy_id=(performer.organisation_id or performer.person_id) if performer else None,
        stopped=ctx.is_stopped(resource) if has_extensions else False,
    )


def merge_dispense_requests(
    ctx: ReadingContext, drafts: Sequence[DraftRequest]
) -> list[tuple[JsonDict, str, list[str]]]:
    """MP9 sends a MedicationAgreement plus a DispenseRequest (both MedicationRequests).

    The DispenseRequest's ``dispenseRequest`` (quantity, repeats, pharmacy) is read as part
    of its agreement, so one prescription yields one order, with the agreement's order id.
    Returns (resource, order id, ids) triples; ``ids`` are the order ids of the dispense
    requests the merged order also stands for (for selections).
    """
    agreements = [d for d in drafts if not ctx.is_dispense_request(d.resource)]
    merged: dict[int, dict[str, Any]] = {}
    ids: dict[int, list[str]] = {id(a.resource): [] for a in agreements}
    skipped: set[int] = set()
    supplies = sorted(
        (d for d in drafts if ctx.is_dispense_request(d.resource)),
        key=lambda d: as_str(d.resource.get("id")) or "",
    )
    for draft in supplies:
        target = None
        for reference in [reference_of(item) for item in dicts(draft.resource.get("basedOn"))]:
            candidate = ctx.index.resolve(reference, draft.resource)
            if candidate is not None and any(candidate is a.resource for a in agreements):
                target = candidate
        if target is None and len(agreements) == 1:
            target = agreements[0].resource
        if target is None:
            continue
        copy = merged.setdefault(id(target), dict(target))
        supply = as_dict(draft.resource.get("dispenseRequest"))
        if not as_dict(copy.get("dispenseRequest")) and supply:
            copy["dispenseRequest"] = draft.resource.get("dispenseRequest")
        ids[id(target)].append(draft.order_id)
        skipped.add(id(draft.resource))
    result: list[tuple[JsonDict, str, list[str]]] = []
    for draft in drafts:
        resource = draft.resource
        if id(resource) in skipped:
            continue
        result.append(
            (merged.get(id(resource), resource), draft.order_id, ids.get(id(resource), []))
        )
    return result


def ome_by_policy(reason: str | None) -> bool:
    """Methadone and buprenorphine are not converted by policy (docs/definitions.md, OME)."""
    return reason is not None and reason.endswith("is not converted by default")


def ome_problem(what: str, reason: str | None, ref: str | None) -> Problem:
    """An OME that could not be computed, as a problem: the reason's code for the card (the
    words of `medication._ome`), the reason itself as the detail."""
    text = reason or ""
    if "not convertible" in text:
        code = ProblemReason.UNIT_NOT_CONVERTIBLE
    elif "conversion factor" in text:
        code = ProblemReason.NO_CONVERSION_FACTOR
    elif "strength" in text or "concentration" in text:
        code = ProblemReason.STRENGTH_UNKNOWN
    elif "dose" in text or "dosage" in text:  # a dose, doses per day, no dosage instruction
        code = ProblemReason.DOSE_UNKNOWN
    else:
        code = ProblemReason.UNREADABLE
    return Problem(what, code, ref, reason)


def order_facts(
    ctx: ReadingContext,
    resource: JsonDict,
    order_id: str,
    also_ids: Sequence[str],
    encounter_sets: frozenset[str],
    encounter_codes: Sequence[tuple[str, str]],
    selections: frozenset[str] | None,
) -> OrderFacts:
    # The order id is the draft's (cds_hooks.draft_orders); as fallback id it keys the memo.
    request = read_request(ctx, resource, order_id)
    requester = request.requester
    role, role_source = requester.role, requester.role_source
    if role is PrescriberRole.UNKNOWN and ctx.user.role is not PrescriberRole.UNKNOWN:
        role, role_source = ctx.user.role, RoleSource.USER
    if role is PrescriberRole.UNKNOWN and ctx.settings.assume_gp_when_unknown:
        role, role_source = PrescriberRole.GP, RoleSource.ASSUMED
    selected = True
    if selections is not None:
        selected = order_id in selections or any(i in selections for i in also_ids)
    found = request.durations_
    medication = request.medication
    route = request.dosage.route or medication.route_hint
    for source in found.unreadable:
        ctx.problems.append(
            Problem(f"duration ({source.value})", ProblemReason.UNREADABLE, order_id)
        )
    if medication.is_opioid or medication.is_sedative:
        for element in unreadable_elements(
            ctx.catalogue, resource, MEDICATION_REQUEST, understood=ctx.understood_modifiers
        ):
            # A modifier not understood: still judged as read; named, the GP knows its cards
            # may miss what the sender meant.
            reason = (
                ProblemReason.NOT_UNDERSTOOD
                if element.endswith(MODIFIERS)
                else ProblemReason.UNREADABLE
            )
            ctx.problems.append(Problem(element, reason, order_id))
    if (
        medication.is_opioid
        and request.dosage.ome_mg_per_day is None
        and not ome_by_policy(request.dosage.ome_reason)
    ):
        ctx.problems.append(ome_problem("OME", request.dosage.ome_reason, order_id))
    return OrderFacts(
        order_id=order_id,
        selected=selected,
        status=request.status,
        intent=request.intent,
        authored_on=request.authored_on,
        medication=medication,
        medication_resolved=request.resolved,
        is_oat=request.is_oat,
        route=route,
        doses_per_day=request.dosage.doses_per_day,
        dose=request.dosage.dose,
        units_per_day=request.dosage.units_per_day,
        as_needed=request.dosage.as_needed,
        continuous=request.dosage.continuous,
        ome_mg_per_day=request.dosage.ome_mg_per_day,
        ome_not_computable_reason=request.dosage.ome_reason
        if medication.is_opioid and request.dosage.ome_mg_per_day is None
        else None,
        duration_days=found.days,
        duration_indefinite=found.indefinite,
        duration_source=found.source,
        duration_by_source=dict(found.by_source),
        repeats_allowed=request.repeats,
        total_covered_days=request.total_days,
        start=found.start,
        course_of_therapy=request.course,
        prior_prescription_ref=request.prior_ref,
        based_on_refs=request.based_on,
        indication_codes=tuple(dict.fromkeys((*request.indication_codes, *encounter_codes))),
        indication_sets=request.indication_sets | encounter_sets,
        has_indication=request.has_indication,
        prescriber_role=role,
        prescriber_role_source=role_source,
        requester_ref=requester.ref,
        requester_agb=requester.agb,
        organisation_ref=requester.organisation_ref,
        organisation_agb=requester.organisation_agb,
        next_practitioner=request.next_practitioner,
        pharmacy_id=request.pharmacy_id,
    )
