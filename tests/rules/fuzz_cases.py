"""The requests the fuzz property changes (test_fuzz_nothing_silent.py): real order-sign and
order-select requests that draft an opioid, what the service answers to each unchanged (the
baseline), and the resources of each whose fields are changed (the targets): the drafted
opioids and the medication history, and the patient's other resources the rules read."""

from __future__ import annotations

import asyncio
import copy
import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Any

from fastapi.testclient import TestClient

from app.evaluation import load_evaluator
from app.pipeline import evaluate_hook_request, service_for
from app.services import SERVICES
from app.settings import Settings
from cds_hooks.errors import CdsHooksError
from rules.cards.render import EXPLANATION_KEY
from rules.fixtures import ANCHOR_DATE, FIXTURES_DIR, list_fixtures, load_fixture, shift_dates
from rules.hooks import SPEC_BY_HOOK
from rules.language import Language
from tests.rules.test_nictiz_mp9 import CODEINE, OXAZEPAM, PRODUCTS, PUMP, TEMAZEPAM, oxycodon_draft
from tests.rules.test_nictiz_mp9 import block as nictiz_block

SNOMED = "http://snomed.info/sct"

Json = dict[str, Any]
JsonPath = tuple[str | int, ...]

# --- the cases: real requests and what they give unchanged ----------------------------------


class Kind(enum.IntEnum):
    """What a change does to the value; the weakest class of a request's changes decides."""

    CLINICAL = 0
    UNREADABLE = 1
    EQUIVALENT = 2
    INVALID = 3
    """Not valid CDS Hooks: a draft's `resourceType` that is no FHIR R4 type, a prefetch that
    is no JSON object."""


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
    listed: frozenset[str] = frozenset()
    """The prefetch keys the cards list under `missing_data` (missing, or cut off)."""
    suggested: frozenset[tuple[str, str]] = frozenset()
    """(rule id, label) of each suggestion: the referral routes, limits, reasons offered."""
    omitting: frozenset[str] = frozenset()
    """The rules whose card says it left suggestions out (`notes.suggestions_omitted`: a draft
    that is not valid R4 as it stands gets no `update` suggestions)."""

    @property
    def named(self) -> frozenset[str]:
        """The orders and resources the incomplete-check card names: for those, "the checks
        that depend on it are incomplete, and a missing card does not mean all is well"."""
        return frozenset(ref for _, _, ref in self.problems if ref)


@dataclass(frozen=True)
class Target:
    """A resource whose fields are changed: a drafted opioid or a history resource (the
    medication targets), or a Condition, Encounter, Patient, PractitionerRole, … (the
    patient's)."""

    ref: str
    path: JsonPath
    """Where the resource is in the request."""
    named_by: frozenset[str]
    """What `incomplete-check` may name for a change in it: the resource, or (a Medication)
    the resources that reference it, or (the Patient, named without its id) "Patient"."""
    medication: bool = True
    """A drafted opioid or a resource of the medication history (else: the patient's)."""
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
    listed: set[str] = set()
    suggested: set[tuple[str, str]] = set()
    omitting: set[str] = set()
    for card in body["cards"]:
        rule_id = card["source"]["topic"]["code"]
        explanation = card["extension"][EXPLANATION_KEY]
        fired.update((rule_id, order_id) for order_id in explanation.get("order_ids", []))
        listed.update(explanation.get("missing_data", []))
        suggested.update((rule_id, s["label"]) for s in card.get("suggestions", []))
        if "suggestions_omitted" in explanation.get("notes", {}):
            omitting.add(rule_id)
        if rule_id == "incomplete-check":
            problems.update(
                (p["what"], p["reason"], p.get("ref", "")) for p in explanation["facts"]["problems"]
            )
    # A rule that raised is named "failed (service error)", a reader that raised "not
    # readable (<error type>)" (the facts builder's last-resort guards).
    failed = frozenset(
        f"{what}: {reason}"
        for what, reason, _ in problems
        if reason == "failed (service error)" or reason.startswith("not readable (")
    )
    return Outcome(
        200,
        fired=frozenset(fired),
        problems=frozenset(problems),
        judged=judged,
        failed=failed,
        listed=frozenset(listed),
        suggested=frozenset(suggested),
        omitting=frozenset(omitting),
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


def _entry(request: Json, key: str, ref: str) -> Json:
    for entry in request["prefetch"][key]["entry"]:
        resource: Json = entry["resource"]
        if f"{resource['resourceType']}/{resource['id']}" == ref:
            return resource
    raise LookupError(ref)


def _told_otherwise() -> Iterator[tuple[str, Json]]:
    """Fixtures told another way, so that what decides a card is a field of the patient's data
    that no fixture carries: today's phone call recorded as an ambulatory consult whose type
    says it was by phone (the type alone keeps it from being the consult that allows a
    follow-up); the back pain of a strong opioid diagnosed on today's encounter (a Condition it
    references) instead of on the order; a pregnancy known from a pregnancy status
    Observation instead of a Condition."""
    phone, _ = load_fixture(FIXTURES_DIR / "follow-up-by-phone.json", ANCHOR_DATE)
    _entry(phone, "encounters", "Encounter/enc-today")["class"]["code"] = "AMB"
    yield "fuzz-phone-consult-recorded-as-ambulatory", phone
    back, _ = load_fixture(FIXTURES_DIR / "common-path-oxycodon-mga-5-days.json", ANCHOR_DATE)
    del back["context"]["draftOrders"]["entry"][0]["resource"]["reasonCode"]
    today = _entry(back, "encounters", "Encounter/enc-today")
    today["diagnosis"] = [{"condition": {"reference": "Condition/cond-back"}}]
    pain = {"system": "http://hl7.org/fhir/sid/icpc-1-nl", "code": "L86", "display": "Lage rugpijn"}
    condition = {"resourceType": "Condition", "id": "cond-back", "code": {"coding": [pain]}}
    back["prefetch"]["conditions"] = _bundle([condition])
    yield "fuzz-bony-pain-diagnosed-on-the-encounter", back
    pregnant, _ = load_fixture(FIXTURES_DIR / "antitussive-codeine.json", ANCHOR_DATE)
    status = {
        "resourceType": "Observation",
        "id": "obs-pregnancy",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "82810-3"}]},
        "effectiveDateTime": "2026-10-20",
        "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "77386006"}]},
    }
    pregnant["prefetch"]["conditions"] = _bundle([])
    pregnant["prefetch"]["observations"] = _bundle([status])
    yield "fuzz-pregnancy-observed", pregnant


HISTORY_TYPES = frozenset(
    {"MedicationRequest", "MedicationDispense", "MedicationStatement", "Medication"}
)
PATIENT_TYPES = frozenset(
    {
        "Condition",
        "Encounter",
        "Patient",
        "PractitionerRole",
        "Practitioner",
        "Organization",
        "Procedure",
        "Observation",
    }
)
"""The patient's other resources the facts read: indications and exclusions, consults, the
postcode, the prescriber's role, surgery, pregnancy."""


def _prefetched(request: Json) -> Iterator[tuple[JsonPath, Json]]:
    """Every prefetched resource and where it is: in a Bundle, or a key's value itself."""
    for key, value in request["prefetch"].items():
        if value.get("resourceType") != "Bundle":
            yield ("prefetch", key), value
            continue
        for n, entry in enumerate(value.get("entry", [])):
            yield ("prefetch", key, "entry", n, "resource"), entry["resource"]


def _targets(request: Json, judged: frozenset[str], composing: bool) -> tuple[Target, ...]:
    """The drafted opioids, the medication history and the patient's resources of a request."""
    found: list[tuple[str, JsonPath, Json]] = []
    for n, entry in enumerate(request["context"]["draftOrders"]["entry"]):
        ref = f"MedicationRequest/{entry['resource']['id']}"
        if ref in judged:
            found.append(
                (ref, ("context", "draftOrders", "entry", n, "resource"), entry["resource"])
            )
    for path, resource in _prefetched(request):
        if resource["resourceType"] in HISTORY_TYPES | PATIENT_TYPES:
            found.append((f"{resource['resourceType']}/{resource['id']}", path, resource))
    users: dict[str, set[str]] = {}
    for ref, _, resource in found:
        medication = resource.get("medicationReference", {}).get("reference")
        if medication:
            users.setdefault(medication, set()).add(ref)
        if resource["resourceType"] == "Patient":
            users.setdefault(ref, set()).add("Patient")  # named without its id
    return tuple(
        Target(
            ref,
            path,
            frozenset({ref, *users.get(ref, ())}),
            medication=path[0] == "context" or resource["resourceType"] in HISTORY_TYPES,
            composed=composing and path[0] == "context",
        )
        for ref, path, resource in found
    )


@cache
def cases(day: date = ANCHOR_DATE) -> tuple[Case, ...]:
    """The requests that draft an opioid, told around `day`, with their baselines."""
    requests: list[tuple[str, str, Language, Json]] = []
    for path in list_fixtures():
        request, expectation = load_fixture(path, today=ANCHOR_DATE)
        if expectation.hook in ("order-sign", "order-select"):
            requests.append((path.stem, expectation.service, expectation.language, request))
    built = [*_nictiz_requests(), *_told_otherwise()]
    requests += [(name, "opioid-order-sign", "nl", r) for name, r in built]
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
