"""Facts about the patient: conditions, pregnancy, consults, procedures, and what the history
adds up to (covered days, prescribers, total OME)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, TypeVar

from cds_hooks.references import reference_key
from rules.catalogue import CodeRef, ReleaseType
from rules.facts.elements import (
    CONDITION,
    CURRENT_ENCOUNTER,
    ENCOUNTER,
    OBSERVATION,
    PATIENT,
    Shape,
    unreadable_elements,
)
from rules.facts.exposure import covered_days, exposure_intervals
from rules.facts.fhir_access import (
    as_dict,
    as_str,
    codings,
    concept_text,
    dicts,
    fields_of,
    parse_date,
    reference_of,
)
from rules.facts.history import (
    BLOCK_RANK,
    FROM_DISPENSE,
    FROM_REQUEST,
    HistoryReading,
    active_medication,
)
from rules.facts.model import (
    OmeContribution,
    OpioidExposure,
    OrderFacts,
    PatientFacts,
    Problem,
    ProblemReason,
    SurgicalProcedure,
)
from rules.facts.orders import ome_by_policy, ome_problem
from rules.facts.reading import ReadingContext, guarded, resource_ref

JsonDict = Mapping[str, Any]
_NON_DIGITS = re.compile(r"\D")

_T = TypeVar("_T")


# --------------------------------------------------------------------------- patient
def _patient_resource(ctx: ReadingContext, resources: Sequence[object]) -> JsonDict | None:
    patient_id = as_str(ctx.context.get("patientId"))
    if patient_id:
        found = ctx.index.resolve(patient_id if "/" in patient_id else f"Patient/{patient_id}")
        if found is not None:
            return found
    patients = ctx.index.of_type("Patient")
    return patients[0] if patients else None


def _age(birth: date | None, today: date) -> int | None:
    if birth is None or birth > today:
        return None
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def _postcode(patient: JsonDict, today: date) -> str | None:
    candidates: list[tuple[int, str]] = []
    for address in dicts(patient.get("address")):
        postal = as_str(address.get("postalCode"))
        if not postal:
            continue
        ended = parse_date(as_dict(address.get("period")).get("end"))
        if ended is not None and ended < today:
            continue
        use = as_str(address.get("use"))
        rank = 0 if use == "home" else 2 if use == "old" else 1
        digits = _NON_DIGITS.sub("", postal)
        if len(digits) >= 4:
            candidates.append((rank, digits[:4]))
    return min(candidates)[1] if candidates else None


def _name_unreadable(
    ctx: ReadingContext, resource: JsonDict, shape: Shape, decides: bool, fallback: str
) -> None:
    """Name what a Condition or Observation holds but cannot be read, when it may decide a
    rule: its code names what a rule looks for, or cannot be read itself. Others decide
    nothing, so their gaps are no gap in the checks."""
    unreadable = unreadable_elements(ctx.catalogue, resource, shape)
    if unreadable and (decides or any(path.startswith("code") for path in unreadable)):
        ref = resource_ref(resource, as_str(resource.get("resourceType")) or "resource", fallback)
        ctx.problems.extend(Problem(path, ProblemReason.UNREADABLE, ref) for path in unreadable)


def _condition_sets(ctx: ReadingContext, resources: Sequence[JsonDict]) -> frozenset[str]:
    clinical = ctx.clinical
    sets: set[str] = set()
    for position, resource in enumerate(resources):
        fields = fields_of(resource)
        of_code = ctx.condition_sets_of(fields.get("code"))
        _name_unreadable(ctx, resource, CONDITION, bool(of_code), f"c{position}")
        statuses = [c for _, c, _ in codings(fields.get("clinicalStatus"))]
        if statuses and not any(s in clinical.active_clinical_statuses for s in statuses):
            continue
        verification = [c for _, c, _ in codings(fields.get("verificationStatus"))]
        if any(v in clinical.excluded_verification_statuses for v in verification):
            continue
        abated = parse_date(fields.get("abatementDateTime"))
        if abated is not None and abated <= ctx.today:
            continue
        sets |= of_code
    return frozenset(sets)


_PROCEDURE_CONDITION_SETS = frozenset({"palliative_or_cancer"})
"""Condition sets a Procedure can establish: palliative care recorded as a care procedure."""


def _procedure_sets(ctx: ReadingContext, resources: Sequence[JsonDict]) -> frozenset[str]:
    """Condition sets of in-progress Procedures (definitions.md §1 Exclusions: palliative care)."""
    sets: set[str] = set()
    for resource in resources:
        if as_str(resource.get("status")) != "in-progress":
            continue
        sets |= ctx.condition_sets_of(resource.get("code")) & _PROCEDURE_CONDITION_SETS
    return frozenset(sets)


def _pregnant_by_observation(ctx: ReadingContext, resources: Sequence[JsonDict]) -> bool:
    definition = ctx.clinical.pregnancy_observation
    latest: tuple[date, bool] | None = None
    for position, resource in enumerate(resources):
        codes = codings(resource.get("code"))
        is_status = any(code in definition.loinc_codes for _, code, _ in codes)
        _name_unreadable(ctx, resource, OBSERVATION, is_status, f"o{position}")
        if as_str(resource.get("status")) in ("entered-in-error", "cancelled"):
            continue
        if not is_status:
            continue
        when = parse_date(resource.get("effectiveDateTime")) or parse_date(resource.get("issued"))
        if when is None or (ctx.today - when).days > definition.max_age_days:
            continue
        values = {
            CodeRef(key, code)
            for system, code, _ in codings(resource.get("valueCodeableConcept"))
            if (key := ctx.catalogue.system_key(system))
        }
        if values & definition.pregnant_values:
            status = True
        elif values & definition.not_pregnant_values:
            status = False
        else:
            continue
        # The newest status wins; on the same day "pregnant" wins (order-independent).
        if latest is None or (when, status) > latest:
            latest = (when, status)
    return bool(latest and latest[1])


def _is_physical(ctx: ReadingContext, resource: JsonDict) -> bool:
    definition = ctx.clinical.physical_consult
    encounter = fields_of(resource)
    if as_str(encounter.get("status")) not in definition.statuses:
        return False
    # A class of a consult and none that never is one (no sets built: twenty encounters a call).
    consult_class = False
    for _, code, _ in codings(encounter.get("class")):
        upper = code.upper()
        if upper in definition.never_classes:
            return False
        consult_class = consult_class or upper in definition.classes
    if not consult_class:
        return False
    for concept in (encounter.get("type"), encounter.get("serviceType")):
        if concept is None:
            continue
        for system, code, _ in codings(concept):
            key = ctx.catalogue.system_key(system)
            if key and CodeRef(key, code) in definition.remote_type_codes:
                return False
        for text in concept_text(concept):
            if definition.remote_text.search(text.lower()):
                return False
    return True


def _consults(ctx: ReadingContext, resources: Sequence[JsonDict]) -> tuple[list[date], bool | None]:
    dates: list[date] = []
    current: bool | None = None
    for position, resource in enumerate(resources):
        ref = resource_ref(resource, "Encounter", "?")
        is_current = ctx.encounter_ref is not None and ref == ctx.encounter_ref
        shape = CURRENT_ENCOUNTER if is_current else ENCOUNTER
        ctx.name_unreadable(resource, shape, resource_ref(resource, "Encounter", f"e{position}"))
        physical = _is_physical(ctx, resource)
        if is_current:
            current = physical
        if not physical:
            continue
        period = fields_of(fields_of(resource).get("period"))
        when = parse_date(period.get("start")) or parse_date(period.get("end"))
        if when is None and is_current:
            when = ctx.today
        if when is not None and when <= ctx.today:
            dates.append(when)
    return sorted(set(dates)), current


def encounter_indications(ctx: ReadingContext) -> tuple[frozenset[str], list[tuple[str, str]]]:
    """Diagnoses and reasons of the current encounter (rule 6 bony-musculoskeletal-pain)."""
    encounter = ctx.index.resolve(ctx.encounter_ref)
    if encounter is None:
        return frozenset(), []
    sets: set[str] = set()
    codes: list[tuple[str, str]] = []
    concepts: list[object] = list(dicts(encounter.get("reasonCode")))
    for item in (*dicts(encounter.get("diagnosis")), *dicts(encounter.get("reasonReference"))):
        reference = item.get("condition") if "condition" in item else item
        condition = ctx.index.resolve(reference_of(reference), encounter)
        if condition is not None:
            concepts.append(condition.get("code"))
    for concept in concepts:
        codes.extend((system, code) for system, code, _ in codings(concept))
        sets |= ctx.condition_sets_of(concept)
    return frozenset(sets), codes


def _surgical_procedures(
    ctx: ReadingContext, resources: Sequence[JsonDict]
) -> list[SurgicalProcedure]:
    clinical = ctx.clinical
    found: list[SurgicalProcedure] = []
    for position, resource in enumerate(resources):
        status = as_str(resource.get("status"))
        if status is not None and status not in clinical.surgical_statuses:
            continue
        category = resource.get("category")
        surgical = any(
            (key := ctx.catalogue.system_key(system)) is not None
            and CodeRef(key, code) in clinical.surgical_category_codes
            for system, code, _ in codings(category)
        )
        texts = [*concept_text(category), *concept_text(resource.get("code"))]
        if not surgical and not any(clinical.surgical_text.search(t.lower()) for t in texts):
            continue
        performed = parse_date(resource.get("performedDateTime")) or parse_date(
            as_dict(resource.get("performedPeriod")).get("start")
        )
        first_code = next(iter(codings(resource.get("code"))), None)
        found.append(
            SurgicalProcedure(
                ref=resource_ref(resource, "Procedure", f"p{position}"),
                performed_on=performed,
                code=(first_code[0], first_code[1]) if first_code else None,
                display=next(iter(concept_text(resource.get("code"))), None),
            )
        )
    found.sort(key=lambda p: (p.performed_on or date.min, p.ref))
    return found


def patient_facts(
    ctx: ReadingContext,
    resources: Sequence[object],
    history: HistoryReading,
    orders: Sequence[OrderFacts],
) -> PatientFacts:
    today = ctx.today
    patient = _patient_resource(ctx, resources)
    birth = parse_date(patient.get("birthDate")) if patient else None
    if patient:
        # The patient of the call: named without its id, which may be a national number.
        ctx.name_unreadable(patient, PATIENT, "Patient")
    sets = set(
        guarded(
            ctx,
            "conditions",
            lambda: _condition_sets(ctx, ctx.index.of_type("Condition")),
            frozenset[str](),
        )
    )
    sets |= guarded(
        ctx,
        "procedures",
        lambda: _procedure_sets(ctx, ctx.index.of_type("Procedure")),
        frozenset[str](),
    )
    pregnant = "pregnancy" in sets or guarded(
        ctx,
        "observations",
        lambda: _pregnant_by_observation(ctx, ctx.index.of_type("Observation")),
        False,
    )
    if pregnant:
        sets.add("pregnancy")
    no_consults: tuple[list[date], bool | None] = ([], None)
    consult_dates, current_physical = guarded(
        ctx, "encounters", lambda: _consults(ctx, ctx.index.of_type("Encounter")), no_consults
    )
    exposures = history.exposures
    pain = [e for e in exposures if not e.is_oat]
    window = [e for e in exposures if in_window(e, ctx.window_start, today)]
    prescriptions = [e for e in window if not e.is_oat and e.source is FROM_REQUEST] or [
        e for e in window if not e.is_oat and e.source is FROM_DISPENSE
    ]
    latest_end: dict[tuple[str, ReleaseType], date] = {}
    for exposure in pain:
        if exposure.indefinite or exposure.end is None:
            continue
        for substance in exposure.substances:
            key = (substance, exposure.release_type)
            if key not in latest_end or exposure.end > latest_end[key]:
                latest_end[key] = exposure.end
    sedatives = list(history.sedatives)
    sedatives.extend(
        active_medication(o.order_id, o.medication, is_draft=True, selected=o.selected)
        for o in orders
        if o.is_sedative
    )
    contributions, total, unconverted = ome_totals(history, orders)
    for contribution in contributions:
        # A drafted opioid's is named with its order (`orders.order_facts`); an active one
        # from the history leaves the total short just the same.
        reason = contribution.not_computable_reason
        unknown = contribution.ome_mg_per_day is None and not ome_by_policy(reason)
        if unknown and not contribution.is_draft:
            ctx.problems.append(ome_problem("OME", reason, contribution.ref))
    prior_intervals = exposure_intervals(pain, ctx.window_start, today)
    return PatientFacts(
        patient_id=as_str(ctx.context.get("patientId")),
        birth_date=birth,
        age=_age(birth, today),
        postcode=_postcode(patient, today) if patient else None,
        pregnant=pregnant,
        condition_sets=frozenset(sets),
        history=tuple(exposures),
        prior_opioid_intervals=prior_intervals,
        prior_opioid_days=covered_days(prior_intervals),
        # Any opioid use makes a patient not new, OAT included (definitions §2 Precise readings).
        opioid_days_new_user_window=covered_days(
            exposure_intervals(exposures, ctx.new_user_start, today)
        ),
        last_prior_prescription=max(
            prescriptions, key=lambda e: (e.prescribed_on or date.min, e.ref), default=None
        ),
        latest_supply_end=latest_end,
        prescribers_in_lookback=frozenset(e.prescriber_id for e in window if e.prescriber_id),
        pharmacies_in_lookback=frozenset(e.pharmacy_id for e in window if e.pharmacy_id),
        physical_consult_dates=tuple(consult_dates),
        last_physical_consult=consult_dates[-1] if consult_dates else None,
        current_encounter_physical=current_physical,
        active_sedatives=tuple(sorted(sedatives, key=lambda s: (s.is_draft, s.ref))),
        surgical_procedures=tuple(
            guarded(
                ctx,
                "procedures",
                lambda: _surgical_procedures(ctx, ctx.index.of_type("Procedure")),
                [],
            )
        ),
        total_ome_mg_per_day=total,
        ome_contributions=tuple(contributions),
        ome_unconverted=tuple(unconverted),
    )


def in_window(exposure: OpioidExposure, start: date, today: date) -> bool:
    when = exposure.prescribed_on or exposure.start
    return when is not None and start <= when <= today


def one_per_treatment(exposures: Sequence[OpioidExposure]) -> list[OpioidExposure]:
    """The block that speaks for each MP9 treatment (its agreement, else the use, else the
    dispense): one treatment is one dose, however many blocks record it."""
    chosen: dict[str, OpioidExposure] = {}
    result: list[OpioidExposure] = []
    for exposure in exposures:
        if exposure.treatment is None:
            result.append(exposure)
            continue
        known = chosen.get(exposure.treatment)
        if known is None or BLOCK_RANK[exposure.source] < BLOCK_RANK[known.source]:
            chosen[exposure.treatment] = exposure
    return result + list(chosen.values())


def ome_totals(
    history: HistoryReading, orders: Sequence[OrderFacts]
) -> tuple[list[OmeContribution], float, list[str]]:
    """Active opioids plus every drafted opioid (selected or not), OAT included.

    An active opioid whose supply ends before the first drafted opioid starts is left out.
    """
    replaced = {o.prior_prescription_ref for o in orders if o.prior_prescription_ref}
    replaced |= {r for o in orders for r in o.based_on_refs}
    replaced = {reference_key(r) for r in replaced} | history.replaced_by_agreement
    contributions = [
        OmeContribution(
            o.order_id, o.product_display, o.ome_mg_per_day, o.ome_not_computable_reason, True
        )
        for o in orders
        if o.is_opioid
    ]
    # An active exposure counts only when it is still running on the first day of a drafted
    # opioid (a renewal that starts after the current supply ends does not double the dose).
    draft_starts = [o.start for o in orders if o.is_opioid]
    first_draft_day = (
        min(d for d in draft_starts if d is not None)
        if draft_starts and all(d is not None for d in draft_starts)
        else None
    )
    active = [
        e
        for e in history.exposures
        if e.is_active
        and e.ref not in replaced
        and (first_draft_day is None or e.indefinite or e.end is None or e.end >= first_draft_day)
    ]
    active = one_per_treatment(active)
    prescribed = {s for e in active if e.source is not FROM_DISPENSE for s in e.substances}
    for exposure in active:
        # A dispense of a substance already on an active prescription is the same medication.
        if exposure.source is FROM_DISPENSE and set(exposure.substances) <= prescribed:
            continue
        contributions.append(
            OmeContribution(
                exposure.ref,
                exposure.product_display,
                exposure.ome_mg_per_day,
                exposure.ome_not_computable_reason,
                False,
            )
        )
    # Drafts first, then by reference: the same facts whatever the order of Bundle entries.
    contributions.sort(key=lambda c: (not c.is_draft, c.ref))
    total = round(sum(c.ome_mg_per_day or 0.0 for c in contributions), 4)
    unconverted = [c.product_display or c.ref for c in contributions if c.ome_mg_per_day is None]
    return contributions, total, unconverted
