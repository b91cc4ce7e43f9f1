"""Reading the medication history as a Dutch pharmacist does (docs/definitions.md §1 History):
requests, dispenses and statements into `OpioidExposure`s, and the sedatives in use.

Nictiz MP9 records one pharmaceutical treatment in several building blocks (agreement,
dispense request, administration agreement, dispense, medication use) that share a treatment
identifier. A dispense request is part of its agreement's treatment, not a prescription of its
own; a stop or pause ends every block of its treatment at its date (one the GP drafts now ends
it now, before the drafts it comes with); a dispense without `daysSupply` lasts its quantity
at the treatment's dose."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, Final

from rules.facts.durations import (
    dispense_supply,
    interval_end,
    period_of_use,
    quantity_days,
    statement_period,
)
from rules.facts.elements import (
    MEDICATION_DISPENSE,
    MEDICATION_REQUEST_HISTORY,
    MEDICATION_STATEMENT,
    MODIFIERS,
    Shape,
    unreadable_elements,
)
from rules.facts.fhir_access import (
    as_dict,
    as_str,
    dicts,
    extensions,
    fields_of,
    reference_of,
)
from rules.facts.model import (
    ActiveMedication,
    ExposureSource,
    MedicationFacts,
    OpioidExposure,
    PrescriberRole,
    Problem,
    ProblemReason,
)
from rules.facts.orders import RequestReading, read_request, read_request_with_ref
from rules.facts.reading import ReadingContext, resource_ref

JsonDict = Mapping[str, Any]
MEDICATION_USE_PRESCRIBER_URL = (
    "http://nictiz.nl/fhir/StructureDefinition/ext-MedicationUse2.Prescriber"
)
TREATMENT_URL = "http://nictiz.nl/fhir/StructureDefinition/ext-PharmaceuticalTreatment.Identifier"
# The sources as C statics (Final): compiled, an enum member is otherwise looked up by name
# through its metaclass at each use, once or twice for every block of a history.
FROM_REQUEST: Final = ExposureSource.MEDICATION_REQUEST
FROM_DISPENSE: Final = ExposureSource.MEDICATION_DISPENSE
FROM_STATEMENT: Final = ExposureSource.MEDICATION_STATEMENT
# Which block of a treatment speaks for it (its dose, its sedative entry): the prescriber's
# agreement first, then what the patient says they use, then the pharmacy's dispenses.
BLOCK_RANK = {
    ExposureSource.MEDICATION_REQUEST: 0,
    ExposureSource.MEDICATION_STATEMENT: 1,
    ExposureSource.MEDICATION_DISPENSE: 2,
}


# --------------------------------------------------------------------------- history
def report_unreadable(ctx: ReadingContext, resource: JsonDict, shape: Shape, ref: str) -> None:
    """Name what the history resource holds but cannot be read, a status left out (R4
    requires one; without it a resource is never in use), and a modifierExtension the readers
    do not know: the incomplete-check card."""
    for element in unreadable_elements(
        ctx.catalogue, resource, shape, ("status",), ctx.understood_modifiers
    ):
        if element.endswith(MODIFIERS):
            # Still counted as read (docs/definitions.md, incomplete-check): dropping it would
            # lose an opioid or sedative the other rules need.
            ctx.problems.append(Problem(element, ProblemReason.NOT_UNDERSTOOD, ref))
        else:
            absent = element == "status" and resource.get("status") is None
            reason = ProblemReason.NOT_STATED if absent else ProblemReason.UNREADABLE
            ctx.problems.append(Problem(element, reason, ref))


def is_relevant(medication: MedicationFacts) -> bool:
    """An opioid or a sedative: what the history is read for. (Here and below `sedative_class`,
    not the `is_sedative` property: compiled, a property of a Python class is a Python call.)"""
    return medication.is_opioid or medication.sedative_class is not None


class SedativeUse:
    """A sedative block of the history and the days it covers (before stops are applied).

    A plain class: compiled, a dataclass's generated ``__init__`` still runs as Python. Its
    `ActiveMedication` (a frozen dataclass) is made only for a block in use (`_active_sedatives`):
    most sedatives of a history were used long ago."""

    def __init__(
        self,
        ref: str,
        medication: MedicationFacts,
        source: ExposureSource,
        treatment: str | None,
        start: date | None,
        end: date | None,
        active: bool,
    ) -> None:
        self.ref = ref
        self.medication = medication
        self.source = source
        self.treatment = treatment
        self.start = start
        self.end = end
        self.active = active


class HistoryReading:
    """What the history adds up to, filled as it is read. A plain class, as `SedativeUse`."""

    def __init__(self) -> None:
        self.exposures: list[OpioidExposure] = []
        self.replaced_by_agreement: set[str] = set()
        self.sedatives: list[ActiveMedication] = []
        self.sedative_uses: list[SedativeUse] = []
        self.stops: dict[str, date] = {}
        """Per treatment, the first day a stop or pause ends it."""
        self.ended_now: set[str] = set()
        """Treatments a drafted stop or pause ends today: not in use next to the drafts."""
        self.agreements: dict[str, JsonDict] | None = None
        """Per treatment, its (first) MedicationAgreement: the dose a dispense is used at. Read
        when a dispense first needs it (`linked_agreement`): most histories have none."""
        self.dispense_requests: list[OpioidExposure] = []


def treatment_of(resource: JsonDict) -> str | None:
    """The MP9 pharmaceutical treatment identifier (``system|value``) of a building block."""
    for extension in extensions(resource, TREATMENT_URL):
        identifier = as_dict(extension.get("valueIdentifier"))
        value = as_str(identifier.get("value"))
        if value:
            return f"{as_str(identifier.get('system')) or ''}|{value}"
    return None


def note_stop(history: HistoryReading, treatment: str | None, day: date | None) -> None:
    if treatment is not None and day is not None:
        known = history.stops.get(treatment)
        history.stops[treatment] = day if known is None else min(known, day)


class RequestPeriod:
    """The days a history request covers: (start, end, indefinite, in use today). A plain
    class: compiled, its `__init__` is native."""

    def __init__(
        self, start: date | None, end: date | None, indefinite: bool, is_active: bool
    ) -> None:
        self.start = start
        self.end = end
        self.indefinite = indefinite
        self.is_active = is_active


def request_period(ctx: ReadingContext, request: RequestReading) -> RequestPeriod:
    found = request.durations_
    start = found.start or request.authored_on
    today = ctx.today
    indefinite = found.indefinite and not request.stopped
    end: date | None
    if indefinite:
        end = max(today, start) if start else None
    elif request.stopped:
        # An MP9 stop or pause: its period of use ends on the day the treatment stops.
        end = interval_end(start, found.days)
    else:
        end = interval_end(start, request.total_days)
    duration_known = request.total_days is not None or indefinite
    if request.status == "active" and not request.stopped:
        is_active = (start is None or start <= today) and (
            not duration_known or (end is not None and end >= today)
        )
    else:
        # Status `unknown` (usual in MP9) or a stop: in use while its period covers today.
        is_active = (
            request.status in ("active", "unknown")
            and start is not None
            and end is not None
            and start <= today <= end
            and (duration_known or request.stopped)
        )
    return RequestPeriod(start, end, indefinite, is_active)


def exposure_from_request(
    ctx: ReadingContext, request: RequestReading, treatment: str | None = None
) -> OpioidExposure:
    period = request_period(ctx, request)
    return OpioidExposure(
        source=FROM_REQUEST,
        ref=request.ref,
        substances=ctx.substance_keys(request.medication),
        product_display=request.medication.product_display,
        prescribed_on=request.authored_on or period.start,
        start=period.start,
        end=period.end,
        indefinite=period.indefinite,
        prescriber_id=request.requester.person_id,
        prescriber_role=request.requester.role,
        pharmacy_id=request.pharmacy_id,
        is_oat=request.is_oat,
        is_active=period.is_active,
        release_type=request.medication.release_type,
        ome_mg_per_day=request.dosage.ome_mg_per_day,
        ome_not_computable_reason=request.dosage.ome_reason,
        next_practitioner=request.next_practitioner,
        has_handover=ctx.has_handover(request.next_practitioner),
        treatment=treatment,
    )


def linked_agreement(
    ctx: ReadingContext, resource: JsonDict, history: HistoryReading, treatment: str | None
) -> JsonDict | None:
    """The agreement a dispense was made for: its authorizingPrescription, else the agreement
    of its treatment (MP9 links them by identifier, which a reference cannot resolve)."""
    for item in dicts(resource.get("authorizingPrescription")):
        request = ctx.index.resolve(reference_of(item), resource)
        if request is not None and as_str(request.get("resourceType")) == "MedicationRequest":
            return request
    if treatment is None:
        return None
    if history.agreements is None:
        history.agreements = _agreements_by_treatment(ctx)
    return history.agreements.get(treatment)


def read_dispense(
    ctx: ReadingContext, resource: JsonDict, fallback_id: str, history: HistoryReading
) -> OpioidExposure | None:
    clinical = ctx.clinical
    if as_str(resource.get("status")) in clinical.excluded_dispense_statuses:
        return None
    medication, _ = ctx.recognise(resource)
    if not is_relevant(medication):
        return None
    ref = resource_ref(resource, "MedicationDispense", fallback_id)
    report_unreadable(ctx, resource, MEDICATION_DISPENSE, ref)
    cat = ctx.catalogue
    treatment = treatment_of(resource)
    agreement = linked_agreement(ctx, resource, history, treatment)
    dosage = ctx.regimen(resource.get("dosageInstruction"), medication)
    supply = dispense_supply(cat, resource, dosage, medication)
    start, days = supply.start, supply.days
    if days is None and agreement is not None and supply.start is not None:
        # No daysSupply and no dose of its own: the quantity at the agreement's dose.
        agreed = ctx.regimen(agreement.get("dosageInstruction"), medication)
        days = quantity_days(cat, resource.get("quantity"), agreed, medication)
    indefinite = False
    if start is None:
        # An MP9 administration agreement hands nothing over: its period of use is the use
        # (definitions §1 History); only a start means use for an indefinite period.
        use = period_of_use(cat, resource)
        if use is not None and use.unreadable:
            ctx.problems.append(Problem("duration (period_of_use)", ProblemReason.UNREADABLE, ref))
        if use is not None and use.start is not None:
            start, indefinite = use.start, use.indefinite
            days = use.days if use.days is not None else days
    stopped = ctx.is_stopped(resource)
    if stopped:
        indefinite = False
    end = (
        max(ctx.today, start)
        if indefinite and start is not None
        else interval_end(start, days if days is not None else 1)
    )
    is_active = end is not None and start is not None and start <= ctx.today <= end
    if stopped:
        note_stop(history, treatment, end)
    if medication.sedative_class is not None:
        history.sedative_uses.append(
            SedativeUse(
                ref,
                medication,
                FROM_DISPENSE,
                treatment,
                start,
                end,
                is_active,
            )
        )
        return None
    prescription: RequestReading | None = None
    if agreement is not None:
        prescription = read_request(ctx, agreement, "authorizing", full=False)
    pharmacy = None
    for performer in dicts(resource.get("performer")):
        actor = ctx.actor(performer.get("actor"), resource)
        pharmacy = actor.organisation_id or actor.person_id
        if pharmacy:
            break
    if pharmacy is None and resource.get("location") is not None:
        pharmacy = ctx.actor(resource.get("location"), resource).person_id
    return OpioidExposure(
        source=FROM_DISPENSE,
        ref=ref,
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
        is_active=is_active,
        release_type=medication.release_type,
        ome_mg_per_day=dosage.ome_mg_per_day,
        ome_not_computable_reason=dosage.ome_reason,
        next_practitioner=None,
        has_handover=False,
        treatment=treatment,
    )


def read_statement(
    ctx: ReadingContext, resource: JsonDict, fallback_id: str, history: HistoryReading
) -> OpioidExposure | None:
    clinical = ctx.clinical
    status = as_str(resource.get("status"))
    if status in clinical.excluded_statement_statuses:
        return None
    medication, _ = ctx.recognise(resource)
    if not is_relevant(medication):
        return None
    ref = resource_ref(resource, "MedicationStatement", fallback_id)
    report_unreadable(ctx, resource, MEDICATION_STATEMENT, ref)
    # MP9 stops a medication use as it stops an agreement: ext-StopType, on its date.
    stopped = ctx.is_stopped(resource)
    used = statement_period(ctx.catalogue, resource, status == "active" and not stopped, ctx.today)
    if used.period_of_use_unreadable:
        ctx.problems.append(Problem("duration (period_of_use)", ProblemReason.UNREADABLE, ref))
    start, end, ongoing = used.start, used.end, used.ongoing
    is_active = status == "active" and (end is None or end >= ctx.today)
    treatment = treatment_of(resource)
    if stopped:
        note_stop(history, treatment, end or start)
    if medication.sedative_class is not None:
        history.sedative_uses.append(
            SedativeUse(
                ref,
                medication,
                FROM_STATEMENT,
                treatment,
                start,
                end,
                is_active and (start is None or start <= ctx.today),
            )
        )
        return None
    dosage = ctx.regimen(resource.get("dosage"), medication)
    prescriber = None
    for extension in extensions(resource, MEDICATION_USE_PRESCRIBER_URL):
        prescriber = ctx.actor(extension.get("valueReference"), resource)
    return OpioidExposure(
        source=FROM_STATEMENT,
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
        is_active=is_active,
        release_type=medication.release_type,
        ome_mg_per_day=dosage.ome_mg_per_day,
        ome_not_computable_reason=dosage.ome_reason,
        next_practitioner=None,
        has_handover=False,
        treatment=treatment,
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
    ctx: ReadingContext, resource: JsonDict, ref: str, history: HistoryReading
) -> OpioidExposure | None:
    """A MedicationRequest of the history, `ref` its reference (`resource_ref`)."""
    clinical = ctx.clinical
    fields = fields_of(resource)
    if as_str(fields.get("status")) in clinical.excluded_request_statuses:
        return None
    if as_str(fields.get("intent")) in clinical.excluded_request_intents:
        return None
    medication, _ = ctx.recognise(resource)
    if not is_relevant(medication):
        return None  # not relevant: do not read the rest
    request = read_request_with_ref(ctx, resource, ref, full=False)
    report_unreadable(ctx, resource, MEDICATION_REQUEST_HISTORY, request.ref)
    for source in request.durations_.unreadable:
        ctx.problems.append(
            Problem(f"duration ({source.value})", ProblemReason.UNREADABLE, request.ref)
        )
    treatment = treatment_of(resource)
    supply_only = ctx.is_dispense_request(resource)
    if medication.sedative_class is not None:
        # A sedative is no exposure: only the days it covers are kept.
        period = request_period(ctx, request)
        if request.stopped:
            note_stop(history, treatment, period.end or period.start)
        if not supply_only:
            history.sedative_uses.append(
                SedativeUse(
                    request.ref,
                    medication,
                    FROM_REQUEST,
                    treatment,
                    period.start,
                    period.end,
                    period.is_active,
                )
            )
        return None
    exposure = exposure_from_request(ctx, request, treatment)
    if request.stopped:
        note_stop(history, treatment, exposure.end or exposure.start)
    if supply_only:
        if request.based_on and any(
            ctx.index.resolve(reference, resource) is not None for reference in request.based_on
        ):
            # The supply of an agreement that is itself in the history: its OME is the agreement's.
            history.replaced_by_agreement.add(request.ref)
        history.dispense_requests.append(exposure)
        return None
    return exposure


def _agreements_by_treatment(ctx: ReadingContext) -> dict[str, JsonDict]:
    found: dict[str, JsonDict] = {}
    for _, resource in ctx.index.history.get("MedicationRequest", ()):
        if "extension" not in resource:
            continue
        treatment = treatment_of(resource)
        if (
            treatment is not None
            and treatment not in found
            and not ctx.is_stopped(resource)
            and not ctx.is_dispense_request(resource)
        ):
            found[treatment] = resource
    return found


def _with_dispense_requests(history: HistoryReading) -> None:
    """A dispense request belongs to its agreement's treatment: with the agreement in the
    history it adds only its pharmacy; alone, it is the one trace of its prescription."""
    blocks: dict[str, int] = {}
    for index, block in enumerate(history.exposures):
        if block.treatment is not None:
            blocks.setdefault(block.treatment, index)
    for exposure in history.dispense_requests:
        position = blocks.get(exposure.treatment) if exposure.treatment is not None else None
        if position is None and exposure.ref in history.replaced_by_agreement:
            continue
        if position is None:
            history.exposures.append(exposure)
            continue
        treated = history.exposures[position]
        if treated.pharmacy_id is None and exposure.pharmacy_id is not None:
            history.exposures[position] = treated._replace(pharmacy_id=exposure.pharmacy_id)


def _stopped(start: date | None, end: date | None, stop: date) -> tuple[date | None, bool]:
    """(new end, still to be cut) of a block that started before its treatment stopped."""
    if start is not None and start > stop:
        return end, False  # a later block: the treatment was restarted after a pause
    return (stop if end is None or end > stop else end), True


def note_drafted_stops(
    ctx: ReadingContext, history: HistoryReading, drafted_stops: list[JsonDict]
) -> None:
    """A stop or pause the GP drafts now (an MP9 stop agreement, naming its treatment by the
    treatment identifier) ends that treatment before the drafts it comes with: stopping
    oxycodon and starting morphine in one go is a switch, not two opioids at once. A stop
    dated later (tapering until then) ends it on its date, as a stop in the history does. A
    stop without a treatment identifier names nothing to end: the history stays as it is."""
    for resource in drafted_stops:
        treatment = treatment_of(resource)
        if treatment is None:
            continue
        use = period_of_use(ctx.catalogue, resource)
        stop_day = use.end if use is not None and use.end is not None else None
        if stop_day is not None and stop_day > ctx.today:
            note_stop(history, treatment, stop_day)
        else:
            history.ended_now.add(treatment)


def _apply_stops(ctx: ReadingContext, history: HistoryReading) -> None:
    """A stop or pause ends every earlier block of its treatment at its date; a drafted one
    ends the blocks running today."""
    if not (history.stops or history.ended_now):
        return
    today = ctx.today
    for position, exposure in enumerate(history.exposures):
        if exposure.treatment in history.ended_now and (
            exposure.start is None or exposure.start <= today
        ):
            history.exposures[position] = exposure._replace(
                end=today if exposure.end is None or exposure.end > today else exposure.end,
                indefinite=False,
                is_active=False,
            )
            continue
        stop = history.stops.get(exposure.treatment or "")
        if stop is None:
            continue
        end, cut = _stopped(exposure.start, exposure.end, stop)
        if cut:
            history.exposures[position] = exposure._replace(
                end=end,
                indefinite=False,
                is_active=exposure.is_active and today <= stop,
            )
    for use in history.sedative_uses:
        if use.treatment in history.ended_now and (use.start is None or use.start <= today):
            use.end = today if use.end is None or use.end > today else use.end
            use.active = False
            continue
        stop = history.stops.get(use.treatment or "")
        if stop is not None:
            use.end, cut = _stopped(use.start, use.end, stop)
            use.active = use.active and not (cut and today > stop)


def _active_sedatives(history: HistoryReading) -> list[ActiveMedication]:
    """One entry per active sedative treatment (blocks without a treatment each their own)."""
    chosen: dict[str, SedativeUse] = {}
    for use in history.sedative_uses:
        if not use.active:
            continue
        key = use.treatment or use.ref
        known = chosen.get(key)
        if known is None or BLOCK_RANK[use.source] < BLOCK_RANK[known.source]:
            chosen[key] = use
    return [active_medication(use.ref, use.medication, is_draft=False) for use in chosen.values()]


def read_history(
    ctx: ReadingContext, draft_ids: set[str], drafted_stops: list[JsonDict]
) -> HistoryReading:
    """Prior exposures from the history resources (the index holds them by type), with the
    treatments that the drafted stops end."""
    history = HistoryReading()
    for kind in ("MedicationRequest", "MedicationDispense", "MedicationStatement"):
        for position, resource in ctx.index.history.get(kind, ()):
            fallback_id = f"h{position}"
            ref = resource_ref(resource, kind, fallback_id)
            if ref in draft_ids:
                continue
            try:
                exposure: OpioidExposure | None
                if kind == "MedicationRequest":
                    exposure = read_history_request(ctx, resource, ref, history)
                elif kind == "MedicationDispense":
                    exposure = read_dispense(ctx, resource, fallback_id, history)
                else:
                    exposure = read_statement(ctx, resource, fallback_id, history)
            except Exception as exc:
                unreadable = ProblemReason.UNREADABLE
                ctx.problems.append(Problem(kind, unreadable, ref, type(exc).__name__))
                continue
            if exposure is not None:
                history.exposures.append(exposure)
    _with_dispense_requests(history)
    note_drafted_stops(ctx, history, drafted_stops)
    _apply_stops(ctx, history)
    history.sedatives = _active_sedatives(history)
    history.exposures.sort(key=lambda e: (e.prescribed_on or date.min, e.ref))
    return history
