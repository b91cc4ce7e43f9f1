"""Nothing silent, fuzzed (issue 12): real requests with one or two fields changed.

Every order-sign and order-select fixture that drafts an opioid, and four requests built from
the public Nictiz MP9 instances (tests/data/nictiz), are evaluated once as they are (the
baseline), then with fields of a drafted opioid or of a medication-history resource changed:
dates, quantities, timing, references, extensions, deletions, type swaps, deep nesting. Each
change is classified by what it does to the value, and the class decides what must hold:

- `unreadable`: the value can no longer be read as what FHIR defines there (garbage or
  impossible dates, non-numbers, negative amounts, unknown units, a wrong JSON type, a
  medicationReference that resolves to nothing, a required element left out, an extension
  nested hundreds of levels deep). Every card the baseline gave an order still comes (from
  the next source), or the `incomplete-check` card names the changed resource or the order.
- `equivalent`: the same value written another way (a date with a time and zone on the same
  day, 2 as 2.0 or "2", 10 mg as 10000 ug, a single array item without its array, the
  medication as a contained Medication, an unknown extension added). Exactly the cards of the
  baseline, for the same orders.
- `clinical`: another valid value (a far past or future date, zero, a tiny or huge decimal,
  an optional element left out: no indication, no repeats, no period of use). The cards may
  change, because the facts did; every drafted opioid of the baseline is still judged, or the
  `incomplete-check` card names it.

Whatever the class, no rule and no reader raises (the engine would name it "failed"), the
HTTP API never answers 5xx, and a 400 names the field that makes the request invalid CDS
Hooks (a draft's `resourceType`: the one change of class `invalid`). Left alone: what a
resource is (`resourceType` of the history, `id`), extension URLs and code systems, and
references other than medicationReference resolving to nothing: each makes another request.

Most examples go through the pipeline in-process (`app.pipeline.evaluate_hook_request`, no
network, on the fixtures' anchor day); a fifth as many again go through the HTTP API, which
must answer as the pipeline does. Under `CI=true` the profile `fuzz-ci` runs 1,000 + 200 examples,
derandomized, so a failure reproduces; locally `fuzz-dev` runs 150 + 30 at random, and
`OPIOID_CDS_FUZZ_EXAMPLES=20000` hunts longer.

That the property fails when it should was checked by breaking the product by hand (not
committed). Found within `fuzz-ci`: a reader raising on an unreadable frequency while the
facts builder's guards swallowed the error unnamed (antitussive-codeine lost its pregnancy
card); `reading.medication_problem` returning nothing; the element check of
`rules/facts/elements.py` left out. Rarer: the period of use's unreadable dates unreported
loses a card in 62 of 8,455 date changes (found by the HTTP share, not the pipeline's 1,000),
and chronic-use's OverflowError on a period to 9998 with repeats in 1 of 100,337 single changes
(found by trying every single change, about 4 minutes; all of them pass now).
"""

from __future__ import annotations

import asyncio
import copy
import enum
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import cache
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.evaluation import load_evaluator
from app.pipeline import evaluate_hook_request, service_for
from app.services import SERVICES
from app.settings import Settings
from cds_hooks.errors import CdsHooksError
from fhir_fixtures.builders import PERIOD_OF_USE
from rules.cards.render import EXPLANATION_KEY
from rules.fixtures import ANCHOR_DATE, FIXTURES_DIR, list_fixtures, load_fixture, shift_dates
from rules.hooks import SPEC_BY_HOOK
from rules.language import Language
from tests.rules.test_nictiz_mp9 import CODEINE, OXAZEPAM, PRODUCTS, PUMP, TEMAZEPAM, oxycodon_draft
from tests.rules.test_nictiz_mp9 import block as nictiz_block

settings.register_profile(
    "fuzz-ci",
    max_examples=1000,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "fuzz-dev",
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
FUZZ = settings.get_profile("fuzz-ci" if IN_CI else "fuzz-dev")
if os.environ.get("OPIOID_CDS_FUZZ_EXAMPLES"):  # a longer hunt by hand: 20000, say
    FUZZ = settings(FUZZ, max_examples=int(os.environ["OPIOID_CDS_FUZZ_EXAMPLES"]))
HTTP_SHARE = 5
"""The HTTP property runs a fifth of the pipeline property's examples."""

Json = dict[str, Any]
JsonPath = tuple[str | int, ...]


# --- the cases: real requests and what they give unchanged ----------------------------------


class Kind(enum.IntEnum):
    """What a change does to the value; the weakest class of a request's changes decides."""

    CLINICAL = 0
    UNREADABLE = 1
    EQUIVALENT = 2
    INVALID = 3
    """Not valid CDS Hooks: a draft's `resourceType` that is no FHIR R4 type."""


@dataclass(frozen=True)
class Outcome:
    """What one answer told the GP, reduced to what the property compares."""

    status: int
    message: str = ""
    """Of a refusal: the OperationOutcome's location and diagnostics."""
    fired: frozenset[tuple[str, str]] = frozenset()
    """(rule id, order id) for each order each card names."""
    problems: frozenset[tuple[str, str, str]] = frozenset()
    """(what, why, reference) of each line of the `incomplete-check` card."""
    judged: frozenset[str] | None = None
    """The drafted opioid orders the engine judged (in-process only: the facts)."""
    failed: frozenset[str] = frozenset()
    """Rules and readers that raised (caught, and named on the card, but a defect)."""

    @property
    def named(self) -> frozenset[str]:
        """The orders and resources the incomplete-check card names: for those, "the checks
        that depend on it are incomplete, and a missing card does not mean all is well"."""
        return frozenset(ref for _, _, ref in self.problems if ref)


@dataclass(frozen=True)
class Target:
    """A resource whose fields are changed: a drafted opioid or a history resource."""

    ref: str
    path: JsonPath
    """Where the resource is in the request."""
    named_by: frozenset[str]
    """What `incomplete-check` may name for a change in it: the resource, or (a Medication)
    the resources that reference it."""
    composed: bool = False
    """A draft on a hook that fires while orders are being filled in (`rules.hooks`
    `drafts_being_composed`): with no medication stated yet it is not a gap."""


@dataclass(frozen=True, repr=False)
class Case:
    name: str
    service: str
    language: Language
    request: Json
    baseline: Outcome
    targets: tuple[Target, ...]

    def __repr__(self) -> str:  # what hypothesis shows of a failing example
        return f"<{self.name}>"


def outcome_of(body: Json, judged: frozenset[str] | None = None) -> Outcome:
    """The outcome of a 200's body (`{"cards": [...]}`)."""
    fired: set[tuple[str, str]] = set()
    problems: set[tuple[str, str, str]] = set()
    raised: set[str] = set()
    for card in body["cards"]:
        rule_id = card["source"]["topic"]["code"]
        explanation = card["extension"][EXPLANATION_KEY]
        fired.update((rule_id, order_id) for order_id in explanation.get("order_ids", []))
        if rule_id == "incomplete-check":
            problems.update(
                (p["what"], p["reason"], p.get("ref", "")) for p in explanation["facts"]["problems"]
            )
            # A rule that raised is `check_failed`, a reader that raised `unreadable` with its
            # error type as the detail (the facts builder's last-resort guards).
            raised.update(
                f"{p['what']}: {p['reason']} ({p['detail']})"
                if p.get("detail") and p["reason"] == "unreadable"
                else f"{p['what']}: {p['reason']}"
                for p in explanation["facts"]["problems"]
                if p["reason"] == "check_failed"
                or (p["reason"] == "unreadable" and p.get("detail"))
            )
    failed = frozenset(raised)
    return Outcome(
        200, fired=frozenset(fired), problems=frozenset(problems), judged=judged, failed=failed
    )


@cache
def _evaluator() -> Any:
    return load_evaluator(Settings(environment="development", trusted_clients=None))


@cache
def _loop() -> asyncio.AbstractEventLoop:
    return asyncio.new_event_loop()


def evaluate(request: Json, case: Case | tuple[str, Language], day: date) -> Outcome:
    """The request as the service answers it, in this process (no network), on `day`."""
    service_id, language = (case.service, case.language) if isinstance(case, Case) else case
    try:
        outcome = _loop().run_until_complete(
            evaluate_hook_request(
                request,
                service=service_for(service_id, SERVICES),
                evaluator=_evaluator(),
                fhir_client_for=lambda _request: None,
                deadline_seconds=2.0,
                language=language,
                today=day,
            )
        )
    except CdsHooksError as exc:
        return Outcome(exc.status_code, message=f"{exc.location}: {exc.message}")
    assert outcome.evaluation.facts is not None
    opioids = outcome.evaluation.facts.opioid_orders
    return outcome_of(outcome.body, frozenset(order.order_id for order in opioids))


def post(api: TestClient, request: Json, case: Case) -> Outcome:
    """The request through the HTTP API (which evaluates on the clinical today)."""
    language = {"Accept-Language": "en" if case.language == "en" else "nl"}
    response = api.post(f"/cds-services/{case.service}", json=request, headers=language)
    if response.status_code != 200:
        issue = response.json()["issue"][0] if response.status_code < 500 else {}
        where = ", ".join(issue.get("expression", []))
        return Outcome(response.status_code, message=f"{where}: {issue.get('diagnostics')}")
    return outcome_of(response.json())


def _bundle(resources: Sequence[Json]) -> Json:
    entries = [{"resource": resource} for resource in resources]
    return {"resourceType": "Bundle", "type": "searchset", "entry": entries}


def _nictiz_requests() -> Iterator[tuple[str, Json]]:
    """The Nictiz MP9 instances as order-sign requests (on their anchor day): the morphine
    pump agreement as a GP's draft, and three treatments as history next to an oxycodon draft."""
    template, _ = load_fixture(FIXTURES_DIR / "common-path-oxycodon-mga-5-days.json", ANCHOR_DATE)
    pump = copy.deepcopy(nictiz_block("MedAgr", PUMP, "MA"))
    pump["status"] = "draft"
    stories: dict[str, tuple[Json, list[tuple[str, str, str]]]] = {
        "nictiz-morphine-pump-draft": (pump, []),
        "nictiz-temazepam-history": (
            oxycodon_draft(),
            [
                ("MedAgr", TEMAZEPAM, "MA"),
                ("AdmAgr", TEMAZEPAM, "TA"),
                ("MedDsp", TEMAZEPAM, "MVE"),
            ],
        ),
        "nictiz-oxazepam-all-blocks": (
            oxycodon_draft(),
            [
                ("MedAgr", OXAZEPAM, "MA"),
                ("DspReq", OXAZEPAM, "VV"),
                ("AdmAgr", OXAZEPAM, "TA"),
                ("MedDsp", OXAZEPAM, "MVE"),
                ("MedUse2", OXAZEPAM, "MGB"),
            ],
        ),
        "nictiz-codeine-and-pump-history": (
            oxycodon_draft(),
            [("MedAgr", CODEINE, "MA"), ("MedUse2", CODEINE, "MGB"), ("MedAgr", PUMP, "MA")],
        ),
    }
    keys = {
        "MedicationRequest": "medicationRequests",
        "MedicationDispense": "medicationDispenses",
        "MedicationStatement": "medicationStatements",
    }
    for name, (draft, blocks) in stories.items():
        request = copy.deepcopy(template)
        request["hookInstance"] = f"fuzz-{name}"
        request["context"]["draftOrders"]["entry"] = [{"resource": draft}]
        history = [copy.deepcopy(nictiz_block(*b)) for b in blocks]
        for resource_type, key in keys.items():
            resources = [r for r in history if r["resourceType"] == resource_type]
            if key == "medicationRequests":  # the products, as `_include` would bring them
                resources += copy.deepcopy(PRODUCTS)
            request["prefetch"][key] = _bundle(resources)
        yield name, request


HISTORY_TYPES = frozenset(
    {"MedicationRequest", "MedicationDispense", "MedicationStatement", "Medication"}
)


def _targets(request: Json, judged: frozenset[str], composing: bool) -> tuple[Target, ...]:
    """The drafted opioids and the medication history of a request."""
    found: list[tuple[str, JsonPath, Json]] = []
    for n, entry in enumerate(request["context"]["draftOrders"]["entry"]):
        ref = f"MedicationRequest/{entry['resource']['id']}"
        if ref in judged:
            found.append(
                (ref, ("context", "draftOrders", "entry", n, "resource"), entry["resource"])
            )
    for key, bundle in request["prefetch"].items():
        if bundle.get("resourceType") != "Bundle":
            continue
        for n, entry in enumerate(bundle.get("entry", [])):
            resource = entry["resource"]
            if resource["resourceType"] in HISTORY_TYPES:
                ref = f"{resource['resourceType']}/{resource['id']}"
                found.append((ref, ("prefetch", key, "entry", n, "resource"), resource))
    users: dict[str, set[str]] = {}
    for ref, _, resource in found:
        medication = resource.get("medicationReference", {}).get("reference")
        if medication:
            users.setdefault(medication, set()).add(ref)
    return tuple(
        Target(ref, path, frozenset({ref, *users.get(ref, ())}), composing and path[0] == "context")
        for ref, path, _ in found
    )


@cache
def cases(day: date = ANCHOR_DATE) -> tuple[Case, ...]:
    """The requests that draft an opioid, told around `day`, with their baselines."""
    requests: list[tuple[str, str, Language, Json]] = []
    for path in list_fixtures():
        request, expectation = load_fixture(path, today=ANCHOR_DATE)
        if expectation.hook in ("order-sign", "order-select"):
            requests.append((path.stem, expectation.service, expectation.language, request))
    requests += [(name, "opioid-order-sign", "nl", r) for name, r in _nictiz_requests()]
    found = []
    for name, service, language, at_anchor in requests:
        told: Json = shift_dates(at_anchor, day - ANCHOR_DATE)
        baseline = evaluate(told, (service, language), day)
        assert baseline.status == 200 and baseline.judged is not None, (name, baseline.message)
        if baseline.judged:
            hook = service_for(service, SERVICES).hook
            targets = _targets(told, baseline.judged, SPEC_BY_HOOK[hook].drafts_being_composed)
            found.append(Case(name, service, language, told, baseline, targets))
    return tuple(found)


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
    }
)
INTEGER_KEYS = frozenset({"frequency", "frequencyMax", "numberOfRepeatsAllowed", "sequence"})
POSITIVE_KEYS = frozenset({"frequency", "frequencyMax"})
"""positiveInt in R4: 0 times a day is no frequency."""
REQUIRED_KEYS = frozenset({"status", "medicationCodeableConcept", "medicationReference"})
"""Elements R4 requires (1..1): left out, the resource cannot be read."""
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
    """A copy of the request with the changes made, those of a whole resource first (they
    only add to it, so the paths of the others still lead where they did)."""
    result = copy.deepcopy(request)
    for change in sorted(changed, key=lambda change: len(change.path) > 0):
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
def _places(day: date) -> tuple[tuple[str, tuple[Place, ...]], ...]:
    """Every element of every target, grouped by its name (`end`, `frequency`, `coding`)."""
    by_name: dict[str, list[Place]] = {}
    for case_index, case in enumerate(cases(day)):
        for target_index, target in enumerate(case.targets):
            for path, _ in _nodes(_get(case.request, target.path)):
                name = _named_key(path) or "(resource)"
                by_name.setdefault(name, []).append((case_index, target_index, path))
    return tuple((name, tuple(places)) for name, places in sorted(by_name.items()))


@cache
def _places_in(day: date, case_index: int) -> tuple[Place, ...]:
    return tuple(p for _, places in _places(day) for p in places if p[0] == case_index)


def _change(draw: st.DrawFn, day: date, place: Place) -> Change:
    case_index, target_index, path = place
    case = cases(day)[case_index]
    target = case.targets[target_index]
    return draw(st.sampled_from(changes_at(target, _get(case.request, target.path), path)))


def _independent(first: Change, second: Change) -> bool:
    """Two changes never touch the same element of a resource: each keeps its class. A change
    of the whole resource (path `()`) replaces all its elements, so it touches every one."""
    if first.target.ref != second.target.ref:
        return True
    return bool(first.path and second.path) and first.path[:1] != second.path[:1]


@st.composite
def changed_requests(draw: st.DrawFn, day: date) -> tuple[Case, tuple[Change, ...]]:
    """A case and one or two changes to it. The first element is drawn by its name, so a
    name found in few resources (`daysSupply`, `numberOfRepeatsAllowed`) is drawn as often
    as `coding`; the second (if any) from the same case, and never the same element."""
    _, places = draw(st.sampled_from(_places(day)))
    place = draw(st.sampled_from(places))
    first = _change(draw, day, place)
    changed = [first]
    if draw(st.booleans()):
        second = _change(draw, day, draw(st.sampled_from(_places_in(day, place[0]))))
        if _independent(first, second):
            changed.append(second)
    return cases(day)[place[0]], tuple(changed)


# --- the property ----------------------------------------------------------------------------


def silent_losses(case: Case, changed: Sequence[Change], outcome: Outcome) -> list[str]:
    """What the GP is not told; empty when the outcome is what the changes' class demands."""
    kind = min(change.kind for change in changed)
    baseline = case.baseline
    if kind is Kind.EQUIVALENT:  # the same cards, and the same lines on incomplete-check
        lost = (baseline.fired - outcome.fired) | (baseline.problems - outcome.problems)
        gained = (outcome.fired - baseline.fired) | (outcome.problems - baseline.problems)
        return [f"lost {sorted(lost)}, gained {sorted(gained)}"] if lost or gained else []
    named = any(change.target.named_by & outcome.named for change in changed)
    if kind is Kind.UNREADABLE:
        return [
            f"{rule_id} for {order_id}"
            for rule_id, order_id in sorted(baseline.fired - outcome.fired)
            if not (named or order_id in outcome.named)
        ]
    assert baseline.judged is not None and outcome.judged is not None
    # A draft still being composed whose medication is left out is no opioid order yet.
    not_chosen = {
        change.target.ref
        for change in changed
        if change.target.composed and change.value is DELETE and change.path[0] in MEDICATION_KEYS
    }
    return [
        f"{order_id} is no longer judged"
        for order_id in sorted(baseline.judged - outcome.judged)
        if not (named or order_id in outcome.named or order_id in not_chosen)
    ]


def check(case: Case, changed: Sequence[Change], outcome: Outcome) -> None:
    described = "\n  ".join([case.name, *map(repr, changed)])
    assert outcome.status < 500, f"{outcome.status} for\n  {described}"
    if any(change.kind is Kind.INVALID for change in changed):
        # Not valid CDS Hooks: refused, and the answer names the field.
        assert outcome.status == 400, f"{outcome.status} for\n  {described}"
        assert "resourceType" in outcome.message, f"{outcome.message}\n  {described}"
        return
    assert outcome.status == 200, f"{outcome.status}: {outcome.message}\n  {described}"
    assert not outcome.failed, f"raised: {sorted(outcome.failed)} for\n  {described}"
    losses = silent_losses(case, changed, outcome)
    assert not losses, f"silent: {losses} for\n  {described}"


@FUZZ
@given(changed_requests(ANCHOR_DATE))
def test_every_drafted_opioid_keeps_its_cards_or_is_named(
    example: tuple[Case, tuple[Change, ...]],
) -> None:
    case, changed = example
    check(case, changed, evaluate(apply(case.request, changed), case, ANCHOR_DATE))


def _clinical_today() -> date:
    return Settings().clinical_today()


@settings(FUZZ, max_examples=max(FUZZ.max_examples // HTTP_SHARE, 1))
@given(st.data())
def test_over_http_the_same_and_never_a_5xx(api: TestClient, data: st.DataObject) -> None:
    """The HTTP API answers a changed request as the pipeline does in-process (status, cards,
    what incomplete-check names), so the property holds for what the EHR receives."""
    day = _clinical_today()
    case, changed = data.draw(changed_requests(day))
    request = apply(case.request, changed)
    answered = post(api, request, case)
    assert answered.status < 500, f"{answered.status} for {case.name}: {changed}"
    in_process = evaluate(request, case, day)
    assert (answered.status, answered.fired, answered.problems) == (
        in_process.status,
        in_process.fired,
        in_process.problems,
    )
    check(case, changed, replace(answered, judged=in_process.judged))
