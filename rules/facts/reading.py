"""The per-call reading context of the facts builder: resources by reference and type,
who a reference names (actors and their roles), and memos of readings that repeat.

Memos keyed by a resource's identity live for one call. Readings that are pure functions of a
piece of JSON (a dosage, a coded concept) are cached across calls, keyed by the whole of that
JSON, never by part of it."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any, Final, TypeVar

import orjson

from cds_hooks.draft_orders import DraftOrders
from cds_hooks.references import References, reference_key
from rules.catalogue import Catalogue, CodeRef
from rules.facts.durations import (
    add_days,
)
from rules.facts.elements import (
    ORGANIZATION,
    PRACTITIONER,
    PRACTITIONER_ROLE,
    Shape,
    unreadable_elements,
)
from rules.facts.fhir_access import (
    as_dict,
    as_list,
    as_str,
    codings,
    concept_text,
    dicts,
    extensions,
    fields_of,
    is_object,
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
    FactSettings,
    MedicationFacts,
    NextPractitioner,
    PrescriberRole,
    Problem,
    ProblemReason,
    RoleSource,
)
from rules.hooks import SPEC_BY_HOOK

if TYPE_CHECKING:
    from rules.facts.orders import RequestReading

JsonDict = Mapping[str, Any]
_T = TypeVar("_T")

NEXT_PRACTITIONER_URL = (
    "http://nictiz.nl/fhir/StructureDefinition/ext-MedicationAgreement.NextPractitioner"
)
_DISPENSE_REQUEST_PROFILE = "mp-DispenseRequest"
_PARTY_SHAPES = {
    "PractitionerRole": PRACTITIONER_ROLE,
    "Practitioner": PRACTITIONER,
    "Organization": ORGANIZATION,
}
"""What an actor's resources hold that decides a role, an identity or the practice."""

# --------------------------------------------------------------------------- index


class ResourceIndex:
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
            kind = as_str(fields_of(resource).get("resourceType"))
            if kind:
                of_kind = self.history.get(kind)
                if of_kind is None:
                    of_kind = self.history[kind] = []
                of_kind.append((position, resource))
                if kind == "PractitionerRole":  # what _add_role looks for, without the call
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
class Actor:
    """A requester / performer / next practitioner, resolved as far as the data allows.

    Internal, a plain class: compiled, a dataclass's generated ``__init__`` still runs as
    Python (a frozen one sets each field through object.__setattr__ besides)."""

    def __init__(
        self,
        ref: str | None,
        display: str | None,
        person_id: str | None,
        agb: str | None,
        organisation_ref: str | None,
        organisation_id: str | None,
        organisation_agb: str | None,
        role: PrescriberRole,
        role_source: RoleSource,
    ) -> None:
        self.ref = ref
        self.display = display
        self.person_id = person_id
        self.agb = agb
        self.organisation_ref = organisation_ref
        self.organisation_id = organisation_id
        self.organisation_agb = organisation_agb
        self.role = role
        self.role_source = role_source


NO_ACTOR = Actor(None, None, None, None, None, None, None, PrescriberRole.UNKNOWN, RoleSource.NONE)


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


class ReadingContext:
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
        spec = SPEC_BY_HOOK.get(hook)
        self._composing = spec is not None and spec.drafts_being_composed
        self._draft_ids = {id(resource) for resource in drafts.resources}
        self.context = context
        self.today = today
        self.catalogue = catalogue
        self.clinical = catalogue.clinical
        self.settings = settings
        # The one modifierExtension whose meaning the readers implement (`is_stopped`); an
        # extension read for its value (a period of use) is no modifier, and as one is named.
        self.understood_modifiers = frozenset((catalogue.clinical.stop_type_extension,))
        self.index = ResourceIndex(drafts, resources)
        self.problems: list[Problem] = []
        # Per-call memos (they die with the call): a history repeats the same requesters,
        # products, dosages and indications, so each distinct one is read once.
        self._actors: dict[tuple[object, ...], Actor] = {}
        self._medications: dict[tuple[object, ...], object] = {}
        # Values hold the resource, so its id() cannot be reused while the memo lives.
        self._medication_of_resource: dict[int, tuple[JsonDict, tuple[MedicationFacts, bool]]] = {}
        # Each MedicationRequest read once (orders.read_request), by identity while it lives.
        self.requests_read: dict[tuple[int, str, bool], RequestReading] = {}
        self._substance_keys: dict[int, tuple[MedicationFacts, tuple[str, ...]]] = {}
        self._oat_capable: dict[int, tuple[MedicationFacts, bool]] = {}
        # Dosages by their JSON and the product's identity: a history repeats both, and the
        # cross-call cache would hash the whole product each time.
        self._regimens: dict[tuple[bytes, int], tuple[MedicationFacts, Regimen]] = {}
        self.window_start = add_days(today, 1 - max(settings.lookback_days, 1))
        self.new_user_start = add_days(today, 1 - max(settings.new_user_lookback_days, 1))
        self.user_ref = as_str(context.get("userId"))
        self.user = self.actor({"reference": self.user_ref}) if self.user_ref else NO_ACTOR
        self.encounter_ref = encounter_ref(context)
        self.current_orgs: set[str] = set()
        for value in (self.user.organisation_ref, self.user.organisation_id):
            if value:
                self.current_orgs.add(value)

    # -- actors
    def actor(self, value: object, *containers: JsonDict) -> Actor:
        node = fields_of(value)
        ref = as_str(node.get("reference"))  # `reference_of`, on the dict at hand
        local = ref is not None and ref.startswith("#")
        # A bare {"reference": ...} (the usual case) is keyed by its text, one with a display
        # text as well by both (all that is read of it), others by their JSON.
        content: object
        display = node.get("display")
        if ref is not None and len(node) == 1:
            content = ref
        elif ref is not None and len(node) == 2 and type(display) is str:
            content = (ref, display)
        else:
            content = json_key(node)
        key = (content, id(containers[0]) if local and containers else None)
        if key[0] is None:
            return self._actor(node, *containers)
        found = self._actors.get(key)
        if found is None:
            found = self._actors[key] = self._actor(node, *containers)
        return found

    def _actor(self, node: JsonDict, *containers: JsonDict) -> Actor:
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
        read: list[JsonDict] = [resource] if resource is not None else []
        if resource is not None and kind == "PractitionerRole":
            role_concepts.extend([resource.get("code"), resource.get("specialty")])
            person_ref = reference_of(resource.get("practitioner"))
            person = self.index.resolve(person_ref, resource, *containers)
            organisation_ref = reference_of(resource.get("organization"))
            organisation = self.index.resolve(organisation_ref, resource, *containers)
        elif (resource is None or kind == "Practitioner") and ref and not ref.startswith("#"):
            # Practitioner/X: its PractitionerRoles (the practitionerRoles prefetch) tell the
            # role, with or without the Practitioner resource itself (the sandbox sends none).
            person, person_ref = resource, ref
            for practitioner_role in self.index.roles_by_practitioner.get(reference_key(ref), ()):
                read.append(practitioner_role)
                role_concepts.extend(
                    [practitioner_role.get("code"), practitioner_role.get("specialty")]
                )
                if organisation is None:
                    organisation_ref = reference_of(practitioner_role.get("organization"))
                    organisation = self.index.resolve(organisation_ref, practitioner_role)
        elif resource is not None and kind == "Organization":
            organisation, organisation_ref = resource, ref
        for party in (*read, person, organisation):
            party_kind = as_str(party.get("resourceType")) if party is not None else None
            shape = _PARTY_SHAPES.get(party_kind) if party_kind else None
            if party is not None and party_kind and shape is not None:
                self.name_unreadable(party, shape, resource_ref(party, party_kind, "?"))
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
        return Actor(
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

    def name_unreadable(self, resource: JsonDict, shape: Shape, ref: str) -> None:
        """Name each element of `resource` that is there but cannot be read, by its path (the
        incomplete-check card): skipped unsaid, an unknown role or condition reads as none."""
        for element in unreadable_elements(self.catalogue, resource, shape):
            self.problems.append(Problem(element, ProblemReason.UNREADABLE, ref))

    # -- medication
    def medication_of(self, resource: JsonDict) -> tuple[MedicationInput, bool]:
        """The medication of a request/dispense/statement: (input, resolved)."""
        concept, reference_node = medication_elements(resource)
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
        concept_from_display = {"text": display} if display else None
        return medication_input(concept_from_display, None, resolved=False), False

    def recognise(self, resource: JsonDict) -> tuple[MedicationFacts, bool]:
        """The medication of a resource, memoised per call (once per resource, too)."""
        by_resource = self._medication_of_resource.get(id(resource))
        if by_resource is not None and by_resource[0] is resource:
            return by_resource[1]
        fields = fields_of(resource)
        concept = fields.get("medicationCodeableConcept")
        only_concept = "medicationReference" not in fields and "medication" not in fields
        if concept is not None and only_concept:
            # A coded concept alone (most resources): its JSON, made once, keys the cross-call
            # cache, which then serves as the memo of this call too.
            concept_key = json_key(concept)
            if concept_key is not None:
                coded = (cached_concept_medication(self.catalogue, concept_key), True)
                self._medication_of_resource[id(resource)] = (resource, coded)
                self._note_problem(resource, coded)
                return coded
        reference = reference_of(resource.get("medicationReference"))
        local = reference is not None and reference.startswith("#")
        content = json_key(
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
            concept = medication_elements(resource)[0]
            concept_key = json_key(concept) if concept is not None else None
            if concept_key is not None:
                found = (cached_concept_medication(self.catalogue, concept_key), True)
            else:
                source, resolved = self.medication_of(resource)
                found = (recognise(self.catalogue, source), resolved)
            if content is not None:
                self._medications[key] = found
        self._medication_of_resource[id(resource)] = (resource, found)
        self._note_problem(resource, found)
        return found

    def _note_problem(self, resource: JsonDict, found: tuple[MedicationFacts, bool]) -> None:
        """What the incomplete-check card says of the medication, once per resource."""
        problem = medication_problem(resource, found[0], found[1])
        if problem is not None and not self._not_chosen_yet(resource, problem):
            self.problems.append(problem)

    def _not_chosen_yet(self, resource: JsonDict, problem: Problem) -> bool:
        """A draft without a medication on a hook that fires while the order is composed
        (the CDS Hooks sandbox opens its prescribing screen with one)."""
        return (
            self._composing
            and problem.reason == ProblemReason.NOT_STATED
            and id(resource) in self._draft_ids
        )

    def regimen(self, instructions: object, medication: MedicationFacts) -> Regimen:
        """Dosage of a medication: a pure function of the instructions and the product,
        cached across calls by both (the same products and dosages recur all day)."""
        key = json_key(instructions)
        if key is None:
            return regimen(self.catalogue, instructions, medication)
        memo_key = (key, id(medication))
        found = self._regimens.get(memo_key)
        if found is not None and found[0] is medication:
            return found[1]
        result = cached_regimen(self.catalogue, key, medication)
        self._regimens[memo_key] = (medication, result)
        return result

    def substance_keys(self, medication: MedicationFacts) -> tuple[str, ...]:
        found = self._substance_keys.get(id(medication))
        if found is not None and found[0] is medication:
            return found[1]
        keys = tuple(s.key for s in medication.substances)
        self._substance_keys[id(medication)] = (medication, keys)
        return keys

    def oat_capable(self, medication: MedicationFacts) -> bool:
        """An opioid, not an OAT product, with a substance that can be one (methadone,
        buprenorphine): its indication decides. Memoised per product, as `substance_keys`
        (each catalogue look-up is a Python call)."""
        found = self._oat_capable.get(id(medication))
        if found is not None and found[0] is medication:
            return found[1]
        capable = False
        if medication.is_opioid and not medication.is_oat_product:
            for substance_ref in medication.substances:
                substance = self.catalogue.substance(substance_ref.key)
                if substance is not None and substance.oat_capable:
                    capable = True
        self._oat_capable[id(medication)] = (medication, capable)
        return capable

    def condition_sets_of(self, concept: object) -> frozenset[str]:
        """Condition sets of a CodeableConcept: a pure function of its JSON, cached by it."""
        key = json_key(concept)
        if key is None:
            return concept_condition_sets(self.catalogue, concept)
        return cached_concept_condition_sets(self.catalogue, key)

    def is_category(self, resource: JsonDict, wanted: CodeRef) -> bool:
        for system, code, _ in codings(resource.get("category")):
            if code == wanted.code and self.catalogue.system_key(system) == wanted.system:
                return True
        return False

    def is_dispense_request(self, resource: JsonDict) -> bool:
        fields = fields_of(resource)
        if "category" not in fields and "meta" not in fields:
            return False  # most requests: neither says so
        if self.is_category(fields, self.clinical.dispense_request_category):
            return True
        profiles = as_list(as_dict(fields.get("meta")).get("profile"))
        return any(isinstance(p, str) and p.endswith(_DISPENSE_REQUEST_PROFILE) for p in profiles)

    def is_stopped(self, resource: JsonDict) -> bool:
        clinical = self.clinical
        stop_codes = clinical.stop_type_codes_stopped | clinical.stop_type_codes_paused
        for extension in extensions(resource, clinical.stop_type_extension):
            for _, code, _ in codings(extension.get("valueCodeableConcept")):
                if code in stop_codes:
                    return True
        return False


def medication_problem(
    resource: JsonDict, medication: MedicationFacts, resolved: bool
) -> Problem | None:
    """What the incomplete-check card says of a resource's medication, once per resource:
    none stated, a reference that resolves to no Medication, or nothing in it that names a
    medication (a code or text of the wrong JSON type). Unknown codes are another medication,
    not a problem."""
    if resolved and (medication.codes or medication.product_display):
        return None
    kind = as_str(resource.get("resourceType")) or "resource"
    ident = as_str(resource.get("id"))
    ref = f"{kind}/{ident}" if ident else None
    if resolved:
        return Problem("medication", ProblemReason.UNREADABLE, ref)
    concept, reference_node = medication_elements(resource)
    if concept is None and reference_node is None:
        return Problem("medication", ProblemReason.NOT_STATED, ref)
    return Problem("medication", ProblemReason.NOT_RESOLVED, ref)


def medication_elements(resource: JsonDict) -> tuple[object, object]:
    """(concept, reference) of a request/dispense/statement's medication; R5's
    CodeableReference (``medication.concept`` / ``.reference``) where R4's are absent."""
    concept = resource.get("medicationCodeableConcept")
    reference_node = resource.get("medicationReference")
    r5 = as_dict(resource.get("medication"))  # R5 CodeableReference, seen in the wild
    if concept is None and r5:
        concept = r5.get("concept")
        reference_node = reference_node or r5.get("reference")
    return concept, reference_node


@functools.lru_cache(maxsize=4096)
def cached_concept_medication(catalogue: Catalogue, concept: bytes) -> MedicationFacts:
    """The medication a coded concept names (what `medication_of` reads from a
    medicationCodeableConcept, recognised): keyed by the concept's JSON, the whole of it."""
    return recognise(catalogue, medication_input(orjson.loads(concept), None, resolved=True))


@functools.lru_cache(maxsize=4096)
def cached_regimen(
    catalogue: Catalogue, instructions: bytes, medication: MedicationFacts
) -> Regimen:
    """`regimen` keyed by the instructions' JSON (the whole of them) and the product."""
    return regimen(catalogue, orjson.loads(instructions), medication)


def concept_condition_sets(catalogue: Catalogue, concept: object) -> frozenset[str]:
    texts = " ".join(concept_text(concept))
    sets: set[str] = set()
    for system, code, display in codings(concept):
        key = catalogue.system_key(system)
        if key:
            sets |= catalogue.condition_sets(key, code, f"{display or ''} {texts}")
    return frozenset(sets)


@functools.lru_cache(maxsize=8192)
def cached_concept_condition_sets(catalogue: Catalogue, concept: bytes) -> frozenset[str]:
    """`concept_condition_sets` keyed by the concept's JSON (the whole of it)."""
    return concept_condition_sets(catalogue, orjson.loads(concept))


_DUMPS: Final = orjson.dumps  # compiled, a Final is a static: no look-up in the module per key


def json_key(value: object) -> bytes | None:
    """A hashable key for a JSON value (None when it cannot be serialised). Keys are not
    sorted: the same JSON written in another order is another key, read once more, and
    the key of every history resource costs less."""
    try:
        return _DUMPS(value)
    except (TypeError, orjson.JSONEncodeError):
        return None


def encounter_ref(context: JsonDict) -> str | None:
    encounter = as_str(context.get("encounterId"))
    if encounter is None:
        return None
    return encounter if "/" in encounter else f"Encounter/{encounter}"


def resource_ref(resource: JsonDict, kind: str, fallback: str) -> str:
    ident = as_str(fields_of(resource).get("id"))
    return f"{kind}/{ident}" if ident else f"{kind}/#{fallback}"


def guarded(ctx: ReadingContext, what: str, build: Callable[[], _T], default: _T) -> _T:
    """Run one patient-level reader; on an unexpected error report it and use ``default``."""
    try:
        result = build()
    except Exception as exc:
        ctx.problems.append(Problem(what, ProblemReason.UNREADABLE, None, type(exc).__name__))
        return default
    return result
