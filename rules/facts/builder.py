"""Facts builder: draft orders, prefetched resources and hook context → ``rules.facts.Facts``.

One pass over plain (orjson-parsed) JSON; no FHIR library objects. Every definition follows
definitions.md §1. The builder never raises on any JSON input: each resource is read defensively,
and a resource that still fails is reported in ``Facts.problems`` and skipped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

import orjson

from cds_hooks.draft_orders import DraftOrders, DraftRequest
from cds_hooks.references import References, reference_key
from rules.catalogue import Catalogue, CodeRef
from rules.facts.durations import (
    Durations,
    add_days,
    dispense_supply,
    interval_end,
    request_durations,
    statement_period,
)
from rules.facts.exposure import covered_days, exposure_intervals
from rules.facts.fhir_access import (
    as_dict,
    as_int,
    as_list,
    as_str,
    codings,
    concept_text,
    dicts,
    extensions,
    is_object,
    parse_date,
    reference_of,
)
from rules.facts.medication import (
    MedicationInput,
    Regimen,
    medication_input,
    recognise,
    regimen,
)
from rules.facts.model import (
    ActiveMedication,
    ExposureSource,
    Facts,
    FactSettings,
    MedicationFacts,
    NextPractitioner,
    OmeContribution,
    OpioidExposure,
    OrderFacts,
    PatientFacts,
    PrescriberRole,
    RoleSource,
    SurgicalProcedure,
)

__all__ = ["build_facts"]

JsonDict = Mapping[str, Any]
_T = TypeVar("_T")

NEXT_PRACTITIONER_URL = (
    "http://nictiz.nl/fhir/StructureDefinition/ext-MedicationAgreement.NextPractitioner"
)
MEDICATION_USE_PRESCRIBER_URL = (
    "http://nictiz.nl/fhir/StructureDefinition/ext-MedicationUse2.Prescriber"
)
_DISPENSE_REQUEST_PROFILE = "mp-DispenseRequest"
_NON_DIGITS = re.compile(r"\D")


# --------------------------------------------------------------------------- index
_normalise_ref = reference_key  # the name the OME totals use


class _Index:
    """References (``cds_hooks.references``), roles by practitioner, history by type."""

    def __init__(self, drafts: DraftOrders, resources: Sequence[object]) -> None:
        self.references = References(drafts.entries, resources)
        self.roles_by_practitioner: dict[str, list[JsonDict]] = {}
        # History resources by type, with their position (fallback ids), read in one pass.
        self.history: dict[str, list[tuple[int, JsonDict]]] = {}
        for draft, _ in drafts.entries:
            self._add_role(draft)
        for position, resource in enumerate(resources):
            if not is_object(resource):
                continue
            kind = as_str(resource.get("resourceType"))
            if kind:
                self.history.setdefault(kind, []).append((position, resource))
            self._add_role(resource)
        # Deterministic whatever the order of Bundle entries.
        for roles in self.roles_by_practitioner.values():
            roles.sort(key=lambda role: as_str(role.get("id")) or "")

    def _add_role(self, resource: JsonDict) -> None:
        if resource.get("resourceType") == "PractitionerRole":
            practitioner = reference_of(resource.get("practitioner"))
            if practitioner:
                key = reference_key(practitioner)
                self.roles_by_practitioner.setdefault(key, []).append(resource)

    def of_type(self, kind: str) -> list[JsonDict]:
        return [resource for _, resource in self.history.get(kind, ())]

    def resolve(self, reference: str | None, *containers: JsonDict) -> JsonDict | None:
        return self.references.resolve(reference, *containers)


# --------------------------------------------------------------------------- actors
@dataclass(slots=True)  # internal; not frozen: 10x cheaper to build on the hot path
class _Actor:
    """A requester / performer / next practitioner, resolved as far as the data allows."""

    ref: str | None
    display: str | None
    person_id: str | None
    agb: str | None
    organisation_ref: str | None
    organisation_id: str | None
    organisation_agb: str | None
    role: PrescriberRole
    role_source: RoleSource


_NO_ACTOR = _Actor(
    None, None, None, None, None, None, None, PrescriberRole.UNKNOWN, RoleSource.NONE
)


def _identifiers(catalogue: Catalogue, *nodes: object) -> dict[str, str]:
    """Identifier values by logical system (agb, uzi, ura, big)."""
    found: dict[str, str] = {}
    for node in nodes:
        for identifier in dicts(node):
            system = as_str(identifier.get("system"))
            value = as_str(identifier.get("value"))
            key = catalogue.system_key(system) if system else None
            if key and value and key not in found:
                found[key] = value
    return found


def _role_from_concepts(catalogue: Catalogue, concepts: Iterable[object]) -> PrescriberRole | None:
    items = list(concepts)
    for concept in items:
        for system, code, _ in codings(concept):
            key = catalogue.system_key(system)
            role = catalogue.role_for_code(key, code) if key else None
            if role in ("gp", "specialist"):
                return PrescriberRole(role)
    for concept in items:
        for text in concept_text(concept):
            role = catalogue.role_for_text(text)
            if role in ("gp", "specialist"):
                return PrescriberRole(role)
    return None


def _name_text(resource: JsonDict) -> str | None:
    name = resource.get("name")
    if isinstance(name, str):
        return as_str(name)
    for item in dicts(name):
        text = as_str(item.get("text"))
        if text:
            return text
        family = as_str(item.get("family"))
        given = " ".join([g for g in [as_str(x) for x in as_list(item.get("given"))] if g])
        if family:
            return f"{given} {family}".strip()
    return None


def _prefixed_id(identifiers: Mapping[str, str], order: Sequence[str]) -> str | None:
    for key in order:
        if key in identifiers:
            return f"{key}:{identifiers[key]}"
    return None


class _Context:
    """Everything the per-resource readers share."""

    def __init__(
        self,
        *,
        hook: str,
        context: JsonDict,
        drafts: DraftOrders,
        resources: Sequence[object],
        today: date,
        catalogue: Catalogue,
        settings: FactSettings,
    ) -> None:
        self.hook = hook
        self.context = context
        self.today = today
        self.catalogue = catalogue
        self.settings = settings
        self.index = _Index(drafts, resources)
        self.problems: list[str] = []
        # Per-call memos: a history repeats the same requesters, products, dosages and
        # indications; reading each once keeps a 50-order history well under 2 ms.
        self._actors: dict[tuple[object, ...], _Actor] = {}
        self._medications: dict[tuple[object, ...], object] = {}
        # Values hold the resource, so its id() cannot be reused while the memo lives.
        self._medication_of_resource: dict[int, tuple[JsonDict, tuple[MedicationFacts, bool]]] = {}
        self._requests: dict[tuple[int, str | None, bool], _Request] = {}
        self._substance_keys: dict[int, tuple[MedicationFacts, tuple[str, ...]]] = {}
        self._regimens: dict[tuple[bytes | None, int], tuple[MedicationFacts, Regimen]] = {}
        self._condition_sets: dict[bytes, frozenset[str]] = {}
        self.window_start = add_days(today, 1 - max(settings.lookback_days, 1))
        self.new_user_start = add_days(today, 1 - max(settings.new_user_lookback_days, 1))
        self.user_ref = as_str(context.get("userId"))
        self.user = self.actor({"reference": self.user_ref}) if self.user_ref else _NO_ACTOR
        self.encounter_ref = _encounter_ref(context)
        self.current_orgs: set[str] = set()
        for value in (self.user.organisation_ref, self.user.organisation_id):
            if value:
                self.current_orgs.add(value)

    # -- actors
    def actor(self, value: object, *containers: JsonDict) -> _Actor:
        node = as_dict(value)
        ref = reference_of(node)
        local = ref is not None and ref.startswith("#")
        # A bare {"reference": ...} (the usual case) is keyed by its text, others by JSON.
        content: object = ref if len(node) == 1 and ref is not None else _json_key(node)
        key = (content, id(containers[0]) if local and containers else None)
        if key[0] is None:
            return self._actor(node, *containers)
        found = self._actors.get(key)
        if found is None:
            found = self._actors[key] = self._actor(node, *containers)
        return found

    def _actor(self, node: JsonDict, *containers: JsonDict) -> _Actor:
        ref = reference_of(node)
        display = as_str(node.get("display"))
        cat = self.catalogue
        resource = self.index.resolve(ref, *containers)
        kind = as_str(resource.get("resourceType")) if resource else None
        role_concepts: list[object] = []
        person: JsonDict | None = None
        organisation: JsonDict | None = None
        organisation_ref: str | None = None
        person_ref: str | None = None
        if resource is not None and kind == "PractitionerRole":
            role_concepts.extend([resource.get("code"), resource.get("specialty")])
            person_ref = reference_of(resource.get("practitioner"))
            person = self.index.resolve(person_ref, resource, *containers)
            organisation_ref = reference_of(resource.get("organization"))
            organisation = self.index.resolve(organisation_ref, resource, *containers)
        elif resource is not None and kind == "Practitioner":
            person, person_ref = resource, ref
            if ref and not ref.startswith("#"):
                for practitioner_role in self.index.roles_by_practitioner.get(
                    reference_key(ref), ()
                ):
                    role_concepts.extend(
                        [practitioner_role.get("code"), practitioner_role.get("specialty")]
                    )
                    if organisation is None:
                        organisation_ref = reference_of(practitioner_role.get("organization"))
                        organisation = self.index.resolve(organisation_ref, practitioner_role)
        elif resource is not None and kind == "Organization":
            organisation, organisation_ref = resource, ref
        person_ids = _identifiers(
            cat, node.get("identifier"), person.get("identifier") if person else None
        )
        org_ids = _identifiers(cat, organisation.get("identifier") if organisation else None)
        role = _role_from_concepts(cat, role_concepts)
        source = RoleSource.REQUESTER
        if role is None and person is not None:
            qualifications = [q.get("code") for q in dicts(person.get("qualification"))]
            role = _role_from_concepts(cat, qualifications)
        if role is None and organisation is not None:
            role = _role_from_concepts(cat, [organisation.get("type")])
            org_name = _name_text(organisation)
            if role is None and org_name:
                found = cat.role_for_text(org_name)
                role = PrescriberRole(found) if found in ("gp", "specialist") else None
            source = RoleSource.ORGANISATION
        if role is None and "agb" in person_ids:
            found = cat.role_for_code("agb", person_ids["agb"])
            role = PrescriberRole(found) if found in ("gp", "specialist") else None
            source = RoleSource.REQUESTER
        person_name = _name_text(person) if person else None
        person_id = _prefixed_id(person_ids, ("agb", "uzi", "big"))
        if person_id is None and person_ref and not person_ref.startswith("#"):
            person_id = reference_key(person_ref)
        if person_id is None and person_name:
            person_id = f"name:{person_name.lower()}"
        if person_id is None and ref and not ref.startswith("#"):
            person_id = reference_key(ref)
        if person_id is None and display:
            person_id = f"name:{display.lower()}"
        organisation_id = _prefixed_id(org_ids, ("agb", "ura"))
        if organisation_id is None and organisation_ref and not organisation_ref.startswith("#"):
            organisation_id = reference_key(organisation_ref)
        if organisation_id is None and organisation is not None:
            org_name = _name_text(organisation)
            organisation_id = f"name:{org_name.lower()}" if org_name else None
        return _Actor(
            ref=reference_key(ref) if ref else None,
            display=display or person_name,
            person_id=person_id,
            agb=person_ids.get("agb"),
            organisation_ref=reference_key(organisation_ref) if organisation_ref else None,
            organisation_id=organisation_id,
            organisation_agb=org_ids.get("agb"),
            role=role or PrescriberRole.UNKNOWN,
            role_source=source if role else RoleSource.NONE,
        )

    def next_practitioner(self, resource: JsonDict) -> NextPractitioner | None:
        for extension in extensions(resource, NEXT_PRACTITIONER_URL):
            actor = self.actor(extension.get("valueReference"), resource)
            agb_ids = tuple(v for v in (actor.agb, actor.organisation_agb) if v)
            return NextPractitioner(
                reference=actor.ref,
                display=actor.display,
                agb_ids=agb_ids,
                organisation_ref=actor.organisation_ref or actor.organisation_id,
                role=actor.role,
            )
        return None

    def has_handover(self, handover: NextPractitioner | None) -> bool:
        """It names the current user, a GP role or the requester's organisation (definitions §2)."""
        if handover is None:
            return False
        if handover.role is PrescriberRole.GP:
            return True
        if handover.reference and handover.reference in (self.user.ref, self.user_ref):
            return True
        if self.user.agb and self.user.agb in handover.agb_ids:
            return True
        names = {
            handover.organisation_ref,
            *handover.agb_ids,
            *[f"agb:{a}" for a in handover.agb_ids],
        }
        return bool(names & self.current_orgs)

    # -- medication
    def medication_of(self, resource: JsonDict) -> tuple[MedicationInput, bool]:
        """The medication of a request/dispense/statement: (input, resolved)."""
        concept = resource.get("medicationCodeableConcept")
        reference_node = resource.get("medicationReference")
        r5 = as_dict(resource.get("medication"))  # R5 CodeableReference, seen in the wild
        if concept is None and r5:
            concept = r5.get("concept")
            reference_node = reference_node or r5.get("reference")
        if concept is not None:
            return medication_input(concept, None, resolved=True), True
        if reference_node is None:
            return medication_input(None, None, resolved=False), False
        ref = reference_of(reference_node)
        medication = self.index.resolve(ref, resource)
        if medication is not None and as_str(medication.get("resourceType")) in (
            None,
            "Medication",
        ):
            return medication_input(None, medication, resolved=True), True
        display = as_str(as_dict(reference_node).get("display"))
        self.problems.append(f"medicationReference {ref or display or '?'} not resolved")
        concept_from_display = {"text": display} if display else None
        return medication_input(concept_from_display, None, resolved=False), False

    def recognise(self, resource: JsonDict) -> tuple[MedicationFacts, bool]:
        """The medication of a resource, memoised per call (once per resource, too)."""
        by_resource = self._medication_of_resource.get(id(resource))
        if by_resource is not None and by_resource[0] is resource:
            return by_resource[1]
        reference = reference_of(resource.get("medicationReference"))
        local = reference is not None and reference.startswith("#")
        content = _json_key(
            (
                resource.get("medicationCodeableConcept"),
                resource.get("medicationReference"),
                resource.get("medication"),
            )
        )
        key = (content, id(resource) if local else None)
        cached = self._medications.get(key) if content is not None else None
        found = cached if isinstance(cached, tuple) else None
        if found is None:
            source, resolved = self.medication_of(resource)
            found = (recognise(self.catalogue, source), resolved)
            if content is not None:
                self._medications[key] = found
        self._medication_of_resource[id(resource)] = (resource, found)
        return found

    def regimen(self, instructions: object, medication: MedicationFacts) -> Regimen:
        """Dosage of a medication, once per call for the same instructions and product (a
        history repeats them). The memo holds the medication, so its id() stays unique."""
        key = (_json_key(instructions), id(medication))
        found = self._regimens.get(key) if key[0] is not None else None
        if found is not None and found[0] is medication:
            return found[1]
        result = regimen(self.catalogue, instructions, medication)
        if key[0] is not None:
            self._regimens[key] = (medication, result)
        return result

    def substance_keys(self, medication: MedicationFacts) -> tuple[str, ...]:
        found = self._substance_keys.get(id(medication))
        if found is not None and found[0] is medication:
            return found[1]
        keys = tuple(s.key for s in medication.substances)
        self._substance_keys[id(medication)] = (medication, keys)
        return keys

    def condition_sets_of(self, concept: object) -> frozenset[str]:
        """Condition sets of a CodeableConcept, once per call for the same JSON."""
        key = _json_key(concept)
        found = self._condition_sets.get(key) if key is not None else None
        if found is None:
            found = self._condition_sets_of(concept)
            if key is not None:
                self._condition_sets[key] = found
        return found

    def _condition_sets_of(self, concept: object) -> frozenset[str]:
        texts = " ".join(concept_text(concept))
        sets: set[str] = set()
        for system, code, display in codings(concept):
            key = self.catalogue.system_key(system)
            if key:
                sets |= self.catalogue.condition_sets(key, code, f"{display or ''} {texts}")
        return frozenset(sets)

    def is_category(self, resource: JsonDict, wanted: CodeRef) -> bool:
        for system, code, _ in codings(resource.get("category")):
            if code == wanted.code and self.catalogue.system_key(system) == wanted.system:
                return True
        return False

    def is_dispense_request(self, resource: JsonDict) -> bool:
        if self.is_category(resource, self.catalogue.clinical.dispense_request_category):
            return True
        profiles = as_list(as_dict(resource.get("meta")).get("profile"))
        return any(isinstance(p, str) and p.endswith(_DISPENSE_REQUEST_PROFILE) for p in profiles)

    def is_stopped(self, resource: JsonDict) -> bool:
        clinical = self.catalogue.clinical
        stop_codes = clinical.stop_type_codes_stopped | clinical.stop_type_codes_paused
        for extension in extensions(resource, clinical.stop_type_extension):
            for _, code, _ in codings(extension.get("valueCodeableConcept")):
                if code in stop_codes:
                    return True
        return False


def _json_key(value: object) -> bytes | None:
    """A hashable key for a JSON value (None when it cannot be serialised)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return None


def _encounter_ref(context: JsonDict) -> str | None:
    encounter = as_str(context.get("encounterId"))
    if encounter is None:
        return None
    return encounter if "/" in encounter else f"Encounter/{encounter}"


# --------------------------------------------------------------------------- requests
class _Request:
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
        requester: _Actor,
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


def _resource_ref(resource: JsonDict, kind: str, fallback: str) -> str:
    ident = as_str(resource.get("id"))
    return f"{kind}/{ident}" if ident else f"{kind}/#{fallback}"


def _read_request(
    ctx: _Context, resource: JsonDict, fallback_id: str, *, full: bool = True
) -> _Request:
    """Read a MedicationRequest once per call. ``full=False`` (history) skips what only a
    drafted order needs: indication codes (unless they decide OAT) and course of therapy."""
    key = (id(resource), None if as_str(resource.get("id")) else fallback_id, full)
    found = ctx._requests.get(key)
    if found is None:
        found = ctx._requests[key] = _read_request_once(ctx, resource, fallback_id, full)
    return found


def _indications(
    ctx: _Context, resource: JsonDict
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


def _read_request_once(ctx: _Context, resource: JsonDict, fallback_id: str, full: bool) -> _Request:
    cat = ctx.catalogue
    medication, resolved = ctx.recognise(resource)
    dosage = ctx.regimen(resource.get("dosageInstruction"), medication)
    authored_on = parse_date(resource.get("authoredOn"))
    found = request_durations(cat, resource, dosage, medication, authored_on, every_source=full)
    dispense = as_dict(resource.get("dispenseRequest"))
    repeats = max(as_int(dispense.get("numberOfRepeatsAllowed")) or 0, 0)
    total = found.days * (1 + repeats) if found.days is not None else None
    oat_capable = False
    if medication.is_opioid and not medication.is_oat_product:
        for substance_ref in medication.substances:
            substance = cat.substance(substance_ref.key)
            if substance is not None and substance.oat_capable:
                oat_capable = True
    codes: tuple[tuple[str, str], ...] = ()
    sets: frozenset[str] = frozenset()
    has_indication = False
    if full or oat_capable:
        codes, sets, has_indication = _indications(ctx, resource)
    is_oat = medication.is_opioid and (
        medication.is_oat_product or (oat_capable and "opioid_use_disorder" in sets)
    )
    course: str | None = None
    if full:
        course_codes = [code for _, code, _ in codings(resource.get("courseOfTherapyType"))]
        course_text = concept_text(resource.get("courseOfTherapyType"))
        course = (course_codes[0] if course_codes else None) or (
            course_text[0] if course_text else None
        )
    performer = (
        ctx.actor(dispense.get("performer"), resource) if dispense.get("performer") else None
    )
    has_extensions = "extension" in resource or "modifierExtension" in resource
    return _Request(
        ref=_resource_ref(resource, "MedicationRequest", fallback_id),
        status=as_str(resource.get("status")),
        intent=as_str(resource.get("intent")),
        medication=medication,
        resolved=resolved,
        dosage=dosage,
        durations_=found,
        repeats=repeats,
        total_days=total,
        authored_on=authored_on,
        requester=ctx.actor(resource.get("requester"), resource),
        indication_codes=codes,
        indication_sets=sets,
        has_indication=has_indication,
        is_oat=is_oat,
        course=course,
        prior_ref=reference_of(resource.get("priorPrescription")),
        based_on=tuple(r for item in dicts(resource.get("basedOn")) if (r := reference_of(item)))
        if "basedOn" in resource
        else (),
        next_practitioner=ctx.next_practitioner(resource) if has_extensions else None,
        pharmacy_id=(performer.organisation_id or performer.person_id) if performer else None,
        stopped=ctx.is_stopped(resource) if has_extensions else False,
    )


def _merge_dispense_requests(
    ctx: _Context, drafts: Sequence[DraftRequest]
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


def _order(
    ctx: _Context,
    resource: JsonDict,
    order_id: str,
    also_ids: Sequence[str],
    encounter_sets: frozenset[str],
    encounter_codes: Sequence[tuple[str, str]],
    selections: frozenset[str] | None,
) -> OrderFacts:
    # The order id is the draft's (cds_hooks.draft_orders); as fallback id it keys the memo.
    request = _read_request(ctx, resource, order_id)
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


# --------------------------------------------------------------------------- history
@dataclass(slots=True)
class _History:
    exposures: list[OpioidExposure] = field(default_factory=list)
    replaced_by_agreement: set[str] = field(default_factory=set)
    sedatives: list[ActiveMedication] = field(default_factory=list)


def _exposure_from_request(ctx: _Context, request: _Request) -> OpioidExposure:
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


def _read_dispense(
    ctx: _Context, resource: JsonDict, fallback_id: str, history: _History
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
            ref = _resource_ref(resource, "MedicationDispense", fallback_id)
            history.sedatives.append(_active_medication(ref, medication, is_draft=False))
        return None
    if not medication.is_opioid:
        return None
    dosage = ctx.regimen(resource.get("dosageInstruction"), medication)
    supply = dispense_supply(cat, resource, dosage, medication)
    start, days = supply.start, supply.days
    prescription: _Request | None = None
    for item in dicts(resource.get("authorizingPrescription")):
        request = ctx.index.resolve(reference_of(item), resource)
        if request is not None and as_str(request.get("resourceType")) == "MedicationRequest":
            prescription = _read_request(ctx, request, "authorizing", full=False)
            break
    pharmacy = None
    for performer in dicts(resource.get("performer")):
        actor = ctx.actor(performer.get("actor"), resource)
        pharmacy = actor.organisation_id or actor.person_id
        if pharmacy:
            break
    if pharmacy is None and resource.get("location") is not None:
        pharmacy = ctx.actor(resource.get("location"), resource).person_id
    end = interval_end(start, days if days is not None else 1)
    return OpioidExposure(
        source=ExposureSource.MEDICATION_DISPENSE,
        ref=_resource_ref(resource, "MedicationDispense", fallback_id),
        substances=tuple(s.key for s in medication.substances),
        product_display=medication.product_display,
        prescribed_on=start,
        start=start,
        end=end,
        indefinite=False,
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


def _read_statement(
    ctx: _Context, resource: JsonDict, fallback_id: str, history: _History
) -> OpioidExposure | None:
    clinical = ctx.catalogue.clinical
    status = as_str(resource.get("status"))
    if status in clinical.excluded_statement_statuses:
        return None
    medication, _ = ctx.recognise(resource)
    ref = _resource_ref(resource, "MedicationStatement", fallback_id)
    if medication.is_sedative and status == "active":
        history.sedatives.append(_active_medication(ref, medication, is_draft=False))
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


def _active_medication(
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


def _read_history_request(
    ctx: _Context, resource: JsonDict, fallback_id: str, history: _History
) -> OpioidExposure | None:
    clinical = ctx.catalogue.clinical
    if as_str(resource.get("status")) in clinical.excluded_request_statuses:
        return None
    if as_str(resource.get("intent")) in clinical.excluded_request_intents:
        return None
    medication, _ = ctx.recognise(resource)
    if medication.is_sedative:
        if as_str(resource.get("status")) == "active" and not ctx.is_stopped(resource):
            ref = _resource_ref(resource, "MedicationRequest", fallback_id)
            history.sedatives.append(_active_medication(ref, medication, is_draft=False))
        return None
    if not medication.is_opioid:
        return None  # not relevant: do not read the rest
    request = _read_request(ctx, resource, fallback_id, full=False)
    if (
        request.based_on
        and ctx.is_dispense_request(resource)
        and any(
            ctx.index.resolve(reference, resource) is not None for reference in request.based_on
        )
    ):
        # The supply of an agreement that is itself in the history: its OME is the agreement's.
        history.replaced_by_agreement.add(request.ref)
    return _exposure_from_request(ctx, request)


def _read_history(ctx: _Context, draft_ids: set[str]) -> _History:
    """Prior exposures from the history resources (the index holds them by type)."""
    history = _History()
    items = [
        (kind, position, resource)
        for kind in ("MedicationRequest", "MedicationDispense", "MedicationStatement")
        for position, resource in ctx.index.history.get(kind, ())
    ]
    for kind, position, resource in items:
        ref = _resource_ref(resource, kind, f"h{position}")
        if ref in draft_ids:
            continue
        try:
            exposure: OpioidExposure | None
            if kind == "MedicationRequest":
                exposure = _read_history_request(ctx, resource, f"h{position}", history)
            elif kind == "MedicationDispense":
                exposure = _read_dispense(ctx, resource, f"h{position}", history)
            else:
                exposure = _read_statement(ctx, resource, f"h{position}", history)
        except Exception as exc:
            ctx.problems.append(f"{ref}: not readable ({type(exc).__name__})")
            continue
        if exposure is not None:
            history.exposures.append(exposure)
    history.exposures.sort(key=lambda e: (e.prescribed_on or date.min, e.ref))
    return history


# --------------------------------------------------------------------------- patient
def _patient_resource(ctx: _Context, resources: Sequence[object]) -> JsonDict | None:
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


def _condition_sets(ctx: _Context, resources: Sequence[JsonDict]) -> frozenset[str]:
    clinical = ctx.catalogue.clinical
    sets: set[str] = set()
    for resource in resources:
        statuses = [c for _, c, _ in codings(resource.get("clinicalStatus"))]
        if statuses and not any(s in clinical.active_clinical_statuses for s in statuses):
            continue
        verification = [c for _, c, _ in codings(resource.get("verificationStatus"))]
        if any(v in clinical.excluded_verification_statuses for v in verification):
            continue
        abated = parse_date(resource.get("abatementDateTime"))
        if abated is not None and abated <= ctx.today:
            continue
        sets |= ctx.condition_sets_of(resource.get("code"))
    return frozenset(sets)


_PROCEDURE_CONDITION_SETS = frozenset({"palliative_or_cancer"})
"""Condition sets a Procedure can establish: palliative care recorded as a care procedure."""


def _procedure_sets(ctx: _Context, resources: Sequence[JsonDict]) -> frozenset[str]:
    """Condition sets of in-progress Procedures (definitions.md §1 Exclusions: palliative care)."""
    sets: set[str] = set()
    for resource in resources:
        if as_str(resource.get("status")) != "in-progress":
            continue
        sets |= ctx.condition_sets_of(resource.get("code")) & _PROCEDURE_CONDITION_SETS
    return frozenset(sets)


def _pregnant_by_observation(ctx: _Context, resources: Sequence[JsonDict]) -> bool:
    definition = ctx.catalogue.clinical.pregnancy_observation
    latest: tuple[date, bool] | None = None
    for resource in resources:
        if as_str(resource.get("status")) in ("entered-in-error", "cancelled"):
            continue
        if not any(code in definition.loinc_codes for _, code, _ in codings(resource.get("code"))):
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


def _is_physical(ctx: _Context, encounter: JsonDict) -> bool:
    definition = ctx.catalogue.clinical.physical_consult
    if as_str(encounter.get("status")) not in definition.statuses:
        return False
    classes = {code.upper() for _, code, _ in codings(encounter.get("class"))}
    if not classes & definition.classes or classes & definition.never_classes:
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


def _consults(ctx: _Context, resources: Sequence[JsonDict]) -> tuple[list[date], bool | None]:
    dates: list[date] = []
    current: bool | None = None
    for resource in resources:
        ref = _resource_ref(resource, "Encounter", "?")
        is_current = ctx.encounter_ref is not None and ref == ctx.encounter_ref
        physical = _is_physical(ctx, resource)
        if is_current:
            current = physical
        if not physical:
            continue
        period = as_dict(resource.get("period"))
        when = parse_date(period.get("start")) or parse_date(period.get("end"))
        if when is None and is_current:
            when = ctx.today
        if when is not None and when <= ctx.today:
            dates.append(when)
    return sorted(set(dates)), current


def _encounter_indications(ctx: _Context) -> tuple[frozenset[str], list[tuple[str, str]]]:
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


def _surgical_procedures(ctx: _Context, resources: Sequence[JsonDict]) -> list[SurgicalProcedure]:
    clinical = ctx.catalogue.clinical
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
                ref=_resource_ref(resource, "Procedure", f"p{position}"),
                performed_on=performed,
                code=(first_code[0], first_code[1]) if first_code else None,
                display=next(iter(concept_text(resource.get("code"))), None),
            )
        )
    found.sort(key=lambda p: (p.performed_on or date.min, p.ref))
    return found


# --------------------------------------------------------------------------- assembly
def _selections(hook: str, context: JsonDict) -> frozenset[str] | None:
    if hook != "order-select":
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
    ctx = _Context(
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
        requester = ctx.actor(draft.resource.get("requester"), draft.resource)
        ctx.current_orgs.update(
            v for v in (requester.organisation_ref, requester.organisation_id) if v
        )

    encounter_sets, encounter_codes = _encounter_indications(ctx)
    selections = _selections(ctx.hook, context)
    orders: list[OrderFacts] = []
    merged = _merge_dispense_requests(ctx, requests)
    for position, (resource, order_id, also_ids) in enumerate(merged):
        try:
            orders.append(
                _order(
                    ctx, resource, order_id, also_ids, encounter_sets, encounter_codes, selections
                )
            )
        except Exception as exc:
            ctx.problems.append(f"draft order {position}: not readable ({type(exc).__name__})")

    history = _read_history(ctx, draft_ids)
    patient = _patient_facts(ctx, history_in, history, orders)
    return Facts(
        hook=ctx.hook,
        today=today,
        orders=orders,
        patient=patient,
        user_ref=ctx.user_ref,
        user_role=ctx.user.role,
        encounter_ref=ctx.encounter_ref,
        problems=tuple(ctx.problems),
    )


def _patient_facts(
    ctx: _Context, resources: Sequence[object], history: _History, orders: Sequence[OrderFacts]
) -> PatientFacts:
    today = ctx.today
    patient = _patient_resource(ctx, resources)
    birth = parse_date(patient.get("birthDate")) if patient else None
    sets = set(
        _guard(
            ctx,
            "conditions",
            lambda: _condition_sets(ctx, ctx.index.of_type("Condition")),
            frozenset[str](),
        )
    )
    sets |= _guard(
        ctx,
        "procedures",
        lambda: _procedure_sets(ctx, ctx.index.of_type("Procedure")),
        frozenset[str](),
    )
    pregnant = "pregnancy" in sets or _guard(
        ctx,
        "observations",
        lambda: _pregnant_by_observation(ctx, ctx.index.of_type("Observation")),
        False,
    )
    if pregnant:
        sets.add("pregnancy")
    no_consults: tuple[list[date], bool | None] = ([], None)
    consult_dates, current_physical = _guard(
        ctx, "encounters", lambda: _consults(ctx, ctx.index.of_type("Encounter")), no_consults
    )
    exposures = history.exposures
    pain = [e for e in exposures if not e.is_oat]
    window = [e for e in exposures if _in_window(e, ctx.window_start, today)]
    prescriptions = [
        e for e in window if not e.is_oat and e.source is ExposureSource.MEDICATION_REQUEST
    ] or [e for e in window if not e.is_oat and e.source is ExposureSource.MEDICATION_DISPENSE]
    latest_end: dict[str, date] = {}
    for exposure in pain:
        if exposure.indefinite or exposure.end is None:
            continue
        for substance in exposure.substances:
            if substance not in latest_end or exposure.end > latest_end[substance]:
                latest_end[substance] = exposure.end
    sedatives = list(history.sedatives)
    sedatives.extend(
        _active_medication(o.order_id, o.medication, is_draft=True, selected=o.selected)
        for o in orders
        if o.is_sedative
    )
    contributions, total, unconverted = _ome_totals(history, orders)
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
        opioid_days_new_user_window=covered_days(
            exposure_intervals(pain, ctx.new_user_start, today)
        ),
        last_prior_prescription=max(
            prescriptions, key=lambda e: (e.prescribed_on or date.min, e.ref), default=None
        ),
        latest_supply_end_by_substance=latest_end,
        prescribers_in_lookback=frozenset(e.prescriber_id for e in window if e.prescriber_id),
        pharmacies_in_lookback=frozenset(e.pharmacy_id for e in window if e.pharmacy_id),
        physical_consult_dates=tuple(consult_dates),
        last_physical_consult=consult_dates[-1] if consult_dates else None,
        current_encounter_physical=current_physical,
        active_sedatives=tuple(sorted(sedatives, key=lambda s: (s.is_draft, s.ref))),
        surgical_procedures=tuple(
            _guard(
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


def _in_window(exposure: OpioidExposure, start: date, today: date) -> bool:
    when = exposure.prescribed_on or exposure.start
    return when is not None and start <= when <= today


def _ome_totals(
    history: _History, orders: Sequence[OrderFacts]
) -> tuple[list[OmeContribution], float, list[str]]:
    """Active opioids plus every drafted opioid (selected or not), OAT included.

    An active opioid whose supply ends before the first drafted opioid starts is left out.
    """
    replaced = {o.prior_prescription_ref for o in orders if o.prior_prescription_ref}
    replaced |= {r for o in orders for r in o.based_on_refs}
    replaced = {_normalise_ref(r) for r in replaced} | history.replaced_by_agreement
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
    prescribed = {
        s
        for e in active
        if e.source is not ExposureSource.MEDICATION_DISPENSE
        for s in e.substances
    }
    for exposure in active:
        # A dispense of a substance already on an active prescription is the same medication.
        if (
            exposure.source is ExposureSource.MEDICATION_DISPENSE
            and set(exposure.substances) <= prescribed
        ):
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


def _guard(ctx: _Context, what: str, build: Callable[[], _T], default: _T) -> _T:
    """Run one patient-level reader; on an unexpected error report it and use ``default``."""
    try:
        result = build()
    except Exception as exc:
        ctx.problems.append(f"{what}: not readable ({type(exc).__name__})")
        return default
    return result
