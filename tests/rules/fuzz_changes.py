"""The changes the fuzz property makes (test_fuzz_nothing_silent.py) to the fields of a
request's resources, each with its class (`Kind`), and the strategy that draws them."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from hypothesis import strategies as st

from fhir_fixtures.builders import PERIOD_OF_USE
from tests.rules.fuzz_cases import Case, Json, JsonPath, Kind, Target, cases

# --- the changes ----------------------------------------------------------------------------

DELETE = object()
"""A change's new value that removes the element."""


@dataclass(frozen=True, repr=False)
class Change:
    target: Target
    path: JsonPath
    """Inside the target resource; () is the resource itself."""
    kind: Kind
    label: str
    value: Any = DELETE

    def __repr__(self) -> str:
        where = ".".join(str(part) for part in self.path) or "(resource)"
        return f"<{self.target.ref} {where}: {self.label} [{self.kind.name.lower()}]>"


DATE_KEYS = frozenset(
    {
        "start",
        "end",
        "authoredOn",
        "whenHandedOver",
        "whenPrepared",
        "effectiveDateTime",
        "dateAsserted",
        "valueDateTime",
        "abatementDateTime",
        "onsetDateTime",
        "recordedDate",
        "birthDate",
        "performedDateTime",
        "issued",
    }
)
INTEGER_KEYS = frozenset({"frequency", "frequencyMax", "numberOfRepeatsAllowed", "sequence"})
POSITIVE_KEYS = frozenset({"frequency", "frequencyMax"})
"""positiveInt in R4: 0 times a day is no frequency."""
REQUIRED_KEYS = frozenset({"status", "medicationCodeableConcept", "medicationReference", "class"})
"""Elements R4 requires (1..1) that the facts read (an Encounter's `class` too): left out, the
resource cannot be read."""
MEDICATION_KEYS = frozenset({"medicationCodeableConcept", "medicationReference"})
NOT_CHANGED = frozenset({"resourceType", "url", "system", "id"})
"""What a resource is, an extension's URL and a code's system: changing one of those makes
another thing, not an unreadable one. (A changed id would make another order.)"""

GARBAGE_DATES = (
    "garbage",
    "2026-13-45",
    "2026-02-30",
    "10000-01-01",
    "",
    "2026/11/01",
    "01-11-2026",
    "T09:30:00",
    "0000-00-00",
)
NOT_NUMBERS: tuple[Any, ...] = ("NaN", "Infinity", "-Infinity", "1e999", "zes", "", True)
UNKNOWN_UNITS = ("bananas", "mg/furlong", "xyz")
DANGLING_MEDICATIONS = (
    "Medication/not-in-the-request",
    "urn:uuid:5b0d6a7e-0000-4000-8000-000000000000",
    "#not-contained",
    "Patient/pat-0001",
    "Practitioner/not-in-the-request",
)
UNKNOWN_EXTENSION = "http://example.org/fhir/StructureDefinition/unknown"
ODD_VALUES: tuple[Any, ...] = (
    "garbage",
    42,
    [1, "two", None],
    {"valueString": "x", "extension": [{"url": UNKNOWN_EXTENSION}]},
)


def _get(node: Any, path: JsonPath) -> Any:
    for part in path:
        node = node[part]
    return node


def _nodes(node: Any, path: JsonPath = ()) -> Iterator[tuple[JsonPath, Any]]:
    """Every element of a resource (its root included), depth first."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            if key not in NOT_CHANGED:
                yield from _nodes(value, (*path, key))
    elif isinstance(node, list):
        for n, value in enumerate(node):
            yield from _nodes(value, (*path, n))


def _named_key(path: JsonPath) -> str | None:
    """The last element name on a path (a list index names its array)."""
    return next((part for part in reversed(path) if isinstance(part, str)), None)


def _deep(depth: int) -> Json:
    node: Json = {"url": UNKNOWN_EXTENSION, "valueString": "x"}
    for _ in range(depth // 2):  # a dict and a list per step
        node = {"url": UNKNOWN_EXTENSION, "extension": [node]}
    return node


def _same_day(text: str) -> list[str]:
    try:
        day = date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        return []
    forms = [day, f"{day}T00:00:00Z", f"{day}T12:00:00+01:00", f"{day}T23:59:59.999-12:00"]
    return [form for form in forms if form != text]


MASS_UNITS = {"mg": ((1000.0, "ug"), (0.001, "g"))}


Variant = tuple[Kind, str, Any]
"""A change at one element without its place: (class, label, new value)."""


def _resource_variants(resource: Json, drafted: bool) -> Iterator[Variant]:
    """Changes to a resource as a whole: what it is, its medication, a period of use."""
    if drafted:
        yield (
            Kind.INVALID,
            "resourceType 'MedicationOrder'",
            {**resource, "resourceType": "MedicationOrder"},
        )
    concept = resource.get("medicationCodeableConcept")
    if isinstance(concept, dict):
        medication = {"resourceType": "Medication", "id": "fuzz-med", "code": concept}
        referring = {k: v for k, v in resource.items() if k != "medicationCodeableConcept"}
        referring["contained"] = [*resource.get("contained", []), medication]
        referring["medicationReference"] = {"reference": "#fuzz-med"}
        yield Kind.EQUIVALENT, "its medication as a contained Medication", referring
    for odd in ODD_VALUES:
        # Read only where the resource has no period of use of its own (the first counts).
        odd_period = {"url": PERIOD_OF_USE, "valuePeriod": odd}
        extensions = [*resource.get("extension", []), odd_period]
        yield Kind.UNREADABLE, f"a period of use of {odd!r}", {**resource, "extension": extensions}


def _object_variants(value: Json, inside: bool) -> Iterator[Variant]:
    if inside:
        for odd in ("garbage", 7, [value]):
            yield Kind.UNREADABLE, f"object → {type(odd).__name__}", odd
    extensions = value.get("extension", [])
    extensions = extensions if isinstance(extensions, list) else []
    unknown = {"url": UNKNOWN_EXTENSION, "valueString": "x"}
    yield Kind.EQUIVALENT, "an unknown extension", {**value, "extension": [*extensions, unknown]}
    modifier = [{"url": UNKNOWN_EXTENSION, "valueBoolean": True}]
    yield Kind.UNREADABLE, "an unknown modifierExtension", {**value, "modifierExtension": modifier}
    for depth in (120, 400):
        deep = {**value, "extension": [*extensions, _deep(depth)]}
        yield Kind.UNREADABLE, f"an extension nested {depth} deep", deep
    if isinstance(value.get("value"), (int, float)) and value.get("code") in MASS_UNITS:
        for factor, unit in MASS_UNITS[value["code"]]:
            converted = {**value, "value": value["value"] * factor, "code": unit, "unit": unit}
            yield Kind.EQUIVALENT, f"in {unit}", converted


def _array_variants(value: list[Any], name: str | None) -> Iterator[Variant]:
    odd_values: tuple[Any, ...] = ("garbage", 7, ["garbage", 7, None])
    for odd in odd_values:
        yield Kind.UNREADABLE, f"array → {odd!r}", odd
    yield Kind.CLINICAL, "empty array", []
    if len(value) == 1 and isinstance(value[0], dict):
        # The readers take a single object where R4 has an array; `contained` is looked up
        # as an array only (and its reference named as not resolved).
        lenient = name != "contained"
        yield Kind.EQUIVALENT if lenient else Kind.UNREADABLE, "its one item alone", value[0]


def _number_variants(value: float, name: str | None) -> Iterator[Variant]:
    for odd in NOT_NUMBERS:
        yield Kind.UNREADABLE, f"number → {odd!r}", odd
    yield Kind.UNREADABLE, "number → object", {"value": value}
    yield Kind.UNREADABLE, "number → array", [value]
    yield Kind.UNREADABLE, "negative", -abs(value) - 1
    yield Kind.UNREADABLE if name in POSITIVE_KEYS else Kind.CLINICAL, "zero", 0
    # A decimal may be tiny or huge; a count cannot be 1e-320, nor beyond its reader.
    integer = Kind.UNREADABLE if name in INTEGER_KEYS else Kind.CLINICAL
    yield integer, "1e-320", 1e-320
    yield integer, "1e300", 1e300
    yield Kind.EQUIVALENT, "as a decimal", float(value)
    yield Kind.EQUIVALENT, "as a string", repr(value)


def _string_variants(
    value: str, key: str | int | None, parent: object, path: JsonPath
) -> Iterator[Variant]:
    yield Kind.UNREADABLE, "string → object", {"value": value}
    yield Kind.UNREADABLE, "string → array", [value]
    yield Kind.UNREADABLE, "string → true", True
    if key in DATE_KEYS:
        # 9999-12-31 as an end means "no end" (docs/definitions.md): another value.
        for garbage in (*GARBAGE_DATES, *(() if key == "end" else ("9999-12-31",))):
            yield Kind.UNREADABLE, f"date {garbage!r}", garbage
        for form in _same_day(value):
            yield Kind.EQUIVALENT, f"same day {form!r}", form
        for far in ("0001-01-01", "1900-01-01", "2300-01-01", "9998-12-31"):
            yield Kind.CLINICAL, f"date {far}", far
    if key == "periodUnit" or (
        key in ("code", "unit") and isinstance(parent, dict) and "value" in parent
    ):
        for unit in UNKNOWN_UNITS:
            yield Kind.UNREADABLE, f"unit {unit!r}", unit
    if key == "code" and value.isdigit() and not value.startswith("0"):
        # The readers take a code as a number (57614); a leading zero would be lost.
        yield Kind.EQUIVALENT, "as a number", int(value)
    if key == "reference" and "medicationReference" in path:
        for dangling in DANGLING_MEDICATIONS:
            yield Kind.UNREADABLE, f"reference {dangling!r}", dangling


def changes_at(target: Target, resource: Json, path: JsonPath) -> list[Change]:
    """Every change this module makes at one element of a target resource, with its class."""
    value = _get(resource, path)
    key = path[-1] if path else None
    name = _named_key(path)
    variants: list[Variant] = []
    if path:
        # Left out: an optional element means something when absent (no indication, no
        # repeats, the next duration source); one R4 requires makes the resource unreadable.
        required = key in REQUIRED_KEYS and len(path) == 1
        not_chosen_yet = target.composed and key in MEDICATION_KEYS
        kind = Kind.UNREADABLE if required and not not_chosen_yet else Kind.CLINICAL
        variants.append((kind, "left out", DELETE))
        variants.append((kind, "null", None))  # absent to the readers, as left out
    else:
        variants += _resource_variants(value, drafted=target.path[0] == "context")
    if isinstance(value, dict):
        variants += _object_variants(value, inside=bool(path))
    elif isinstance(value, list):
        variants += _array_variants(value, name)
    elif isinstance(value, bool):
        variants.append((Kind.UNREADABLE, "boolean → 'yes'", "yes"))
    elif isinstance(value, (int, float)):
        variants += _number_variants(value, name)
    elif isinstance(value, str):
        variants += _string_variants(value, key, _get(resource, path[:-1]), path)
    return [Change(target, path, kind, label, new) for kind, label, new in variants]


def apply(request: Json, changed: Sequence[Change]) -> Json:
    """A copy of the request with the changes made (to independent elements)."""
    result = copy.deepcopy(request)
    for change in changed:
        resource = _get(result, change.target.path)
        if not change.path:
            resource.clear()
            resource.update(copy.deepcopy(change.value))
            continue
        parent, key = _get(resource, change.path[:-1]), change.path[-1]
        if change.value is DELETE:
            del parent[key]
        else:
            parent[key] = copy.deepcopy(change.value)
    return result


Place = tuple[int, int, JsonPath]
"""An element: (case, target resource, path) by index."""


@cache
def _places(day: date, medication: bool) -> tuple[tuple[str, tuple[Place, ...]], ...]:
    """Every element of every target of one family (the medication targets or the patient's
    resources), grouped by its name (`end`, `frequency`, `coding`)."""
    by_name: dict[str, list[Place]] = {}
    for case_index, case in enumerate(cases(day)):
        for target_index, target in enumerate(case.targets):
            if target.medication is not medication:
                continue
            for path, _ in _nodes(_get(case.request, target.path)):
                name = _named_key(path) or "(resource)"
                by_name.setdefault(name, []).append((case_index, target_index, path))
    return tuple((name, tuple(places)) for name, places in sorted(by_name.items()))


@cache
def _places_in(day: date, medication: bool, case_index: int) -> tuple[Place, ...]:
    return tuple(p for _, places in _places(day, medication) for p in places if p[0] == case_index)


def _change(draw: st.DrawFn, day: date, place: Place) -> Change:
    case_index, target_index, path = place
    case = cases(day)[case_index]
    target = case.targets[target_index]
    return draw(st.sampled_from(changes_at(target, _get(case.request, target.path), path)))


def _independent(first: Change, second: Change) -> bool:
    """Two changes never touch the same element of a resource, so each keeps its class, and
    never a resource and one of its elements (a contained Medication takes the place of the
    medicationCodeableConcept the other may be about)."""
    if first.target.ref != second.target.ref:
        return True
    return bool(first.path) and bool(second.path) and first.path[:1] != second.path[:1]


@st.composite
def changed_requests(
    draw: st.DrawFn, day: date, medication: bool = True
) -> tuple[Case, tuple[Change, ...]]:
    """A case and one or two changes to it, in its medication targets or (`medication`
    False) in the patient's resources. The first element is drawn by its name, so a name
    found in few resources (`daysSupply`, `abatementDateTime`) is drawn as often as `coding`;
    the second (if any) from the same case and family, and never the same element."""
    _, places = draw(st.sampled_from(_places(day, medication)))
    place = draw(st.sampled_from(places))
    first = _change(draw, day, place)
    changed = [first]
    if draw(st.booleans()):
        in_case = _places_in(day, medication, place[0])
        second = _change(draw, day, draw(st.sampled_from(in_case)))
        if _independent(first, second):
            changed.append(second)
    return cases(day)[place[0]], tuple(changed)
