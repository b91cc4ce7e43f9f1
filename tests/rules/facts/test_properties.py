"""Property tests of the facts builder (hypothesis).

- The order of Bundle entries does not change any fact.
- Adding repeats never shortens a duration (of the order, or of the history it adds to).
- A resource with unexpected or missing fields never raises, and not because a last-resort
  guard caught something: the guards' "not readable" problem is never reported.
"""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cds_hooks.draft_orders import DraftOrders
from fhir_fixtures.builders import (
    AGB,
    AGB_SPECIALISM,
    ATC,
    ICPC,
    NEXT_PRACTITIONER,
    PERIOD_OF_USE,
    PRK,
    RXNORM,
    SNOMED,
    concept,
    dosage,
    med_request,
    qty,
)
from rules.catalogue import load_catalogue
from rules.facts import Facts, FactSettings, build_facts
from rules.facts.history import HistoryReading, read_dispense, read_history, read_statement
from rules.facts.orders import order_facts, read_request
from rules.facts.patient import patient_facts
from rules.facts.reading import ReadingContext
from tests.rules.facts.conftest import TODAY, build

CATALOGUE = load_catalogue()
PRODUCTS = [
    concept((PRK, "57614")),
    concept((PRK, "102059")),
    concept((RXNORM, "245134")),
    concept((RXNORM, "1049574")),
    concept((ATC, "N02AX02"), text="TRAMADOL CAPSULE 50MG"),
    concept((ATC, "N07BC02")),
    concept((ATC, "N05BA01")),
    concept(text="oxycodon drank 1mg/ml"),
]

day = st.dates(min_value=date(2023, 6, 1), max_value=date(2024, 3, 31))


@st.composite
def history_resource(draw: st.DrawFn, ident: str) -> dict[str, Any]:
    kind = draw(st.sampled_from(["request", "dispense", "statement", "encounter", "condition"]))
    start = draw(day).isoformat()
    medication = draw(st.sampled_from(PRODUCTS))
    if kind == "request":
        extra: dict[str, Any] = {
            "dispenseRequest": {
                "expectedSupplyDuration": qty(draw(st.integers(1, 60)), "d"),
                "numberOfRepeatsAllowed": draw(st.integers(0, 3)),
            },
            "requester": {"reference": f"Practitioner/{draw(st.sampled_from(['d1', 'd2', 'd3']))}"},
        }
        if draw(st.booleans()):
            extra["extension"] = [
                {"url": NEXT_PRACTITIONER, "valueReference": {"reference": "PractitionerRole/gp"}}
            ]
        return med_request(
            ident,
            medication,
            authored=start,
            status=draw(st.sampled_from(["active", "completed", "stopped"])),
            dosages=[dosage(frequency=draw(st.integers(1, 4)), dose=qty(1, "1"))],
            **extra,
        )
    if kind == "dispense":
        return {
            "resourceType": "MedicationDispense",
            "id": ident,
            "status": "completed",
            "medicationCodeableConcept": medication,
            "whenHandedOver": start,
            "daysSupply": qty(draw(st.integers(1, 30)), "d"),
            "performer": [{"actor": {"display": draw(st.sampled_from(["A", "B", "C"]))}}],
        }
    if kind == "statement":
        return {
            "resourceType": "MedicationStatement",
            "id": ident,
            "status": draw(st.sampled_from(["active", "completed"])),
            "medicationCodeableConcept": medication,
            "effectivePeriod": {"start": start},
        }
    if kind == "encounter":
        return {
            "resourceType": "Encounter",
            "id": ident,
            "status": "finished",
            "class": {"code": draw(st.sampled_from(["AMB", "HH", "VR"]))},
            "period": {"start": start},
        }
    return {
        "resourceType": "Condition",
        "id": ident,
        "code": draw(st.sampled_from([concept((ICPC, "L86")), concept((SNOMED, "75544000"))])),
    }


STATIC: list[dict[str, Any]] = [
    {
        "resourceType": "Practitioner",
        "id": "d1",
        "identifier": [{"system": AGB, "value": "01000001"}],
    },
    {
        "resourceType": "Practitioner",
        "id": "d2",
        "identifier": [{"system": AGB, "value": "03000002"}],
    },
    {
        "resourceType": "PractitionerRole",
        "id": "gp",
        "specialty": [concept((AGB_SPECIALISM, "0100"))],
    },
    {"resourceType": "Patient", "id": "p1", "birthDate": "1970-01-01"},
]


@st.composite
def scenario(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    count = draw(st.integers(0, 12))
    history = [draw(history_resource(f"h{n}")) for n in range(count)] + STATIC
    drafts = [
        med_request(
            f"d{n}",
            draw(st.sampled_from(PRODUCTS)),
            dosages=[dosage(frequency=draw(st.integers(1, 3)), dose=qty(1, "1"))],
            dispenseRequest={"quantity": qty(draw(st.integers(1, 60)), "1")},
        )
        for n in range(draw(st.integers(0, 3)))
    ]
    return drafts, history


def _comparable(facts: Facts) -> tuple[object, ...]:
    return (
        {o.order_id: o for o in facts.orders},
        facts.patient,
        facts.user_role,
        sorted(facts.problems),
    )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario(), st.randoms(use_true_random=False))
def test_entry_order_does_not_change_any_fact(
    case: tuple[list[dict[str, Any]], list[dict[str, Any]]], rnd: Any
) -> None:
    drafts, history = case
    facts = build(CATALOGUE, drafts, history)
    shuffled_drafts, shuffled_history = list(drafts), list(history)
    rnd.shuffle(shuffled_drafts)
    rnd.shuffle(shuffled_history)
    assert _comparable(build(CATALOGUE, shuffled_drafts, shuffled_history)) == _comparable(facts)


@settings(max_examples=80, deadline=None)
@given(
    source=st.sampled_from(["supply", "bounds", "quantity", "period", "none"]),
    days=st.integers(1, 90),
    repeats=st.integers(0, 5),
    more=st.integers(1, 5),
)
def test_adding_repeats_never_shortens_a_duration(
    source: str, days: int, repeats: int, more: int
) -> None:
    def order_with(number_of_repeats: int) -> dict[str, Any]:
        dispense: dict[str, Any] = {"numberOfRepeatsAllowed": number_of_repeats}
        extra: dict[str, Any] = {}
        instruction = dosage(frequency=1, dose=qty(1, "1"))
        if source == "supply":
            dispense["expectedSupplyDuration"] = qty(days, "d")
        elif source == "bounds":
            instruction = dosage(
                frequency=1, dose=qty(1, "1"), repeat={"boundsDuration": qty(days, "d")}
            )
        elif source == "quantity":
            dispense["quantity"] = qty(days, "1")
        elif source == "period":
            extra["extension"] = [
                {
                    "url": PERIOD_OF_USE,
                    "valuePeriod": {"start": "2024-01-01", "end": f"2024-01-{min(days, 31):02d}"},
                }
            ]
        return med_request(
            "o",
            concept((PRK, "57614")),
            authored="2024-01-01",
            dosages=[instruction],
            dispenseRequest=dispense,
            **extra,
        )

    fewer = build(CATALOGUE, [order_with(repeats)], [order_with(repeats) | {"id": "old"}])
    extra_repeats = build(
        CATALOGUE, [order_with(repeats + more)], [order_with(repeats + more) | {"id": "old"}]
    )
    before, after = fewer.orders[0], extra_repeats.orders[0]
    assert (before.total_covered_days is None) == (after.total_covered_days is None)
    if before.total_covered_days is not None and after.total_covered_days is not None:
        assert after.total_covered_days >= before.total_covered_days
    assert after.duration_days == before.duration_days
    assert extra_repeats.patient.prior_opioid_days >= fewer.patient.prior_opioid_days
    assert (
        extra_repeats.patient.opioid_days_new_user_window
        >= fewer.patient.opioid_days_new_user_window
    )


# --- garbage -----------------------------------------------------------------------------------
FHIR_KEYS = [
    "resourceType",
    "id",
    "status",
    "intent",
    "coding",
    "system",
    "code",
    "display",
    "text",
    "value",
    "unit",
    "timing",
    "repeat",
    "frequency",
    "frequencyMax",
    "period",
    "periodUnit",
    "timeOfDay",
    "when",
    "dayOfWeek",
    "boundsDuration",
    "boundsPeriod",
    "doseAndRate",
    "doseQuantity",
    "doseRange",
    "high",
    "low",
    "reference",
    "extension",
    "url",
    "valuePeriod",
    "valueDuration",
    "valueReference",
    "start",
    "end",
    "dispenseRequest",
    "quantity",
    "numberOfRepeatsAllowed",
    "expectedSupplyDuration",
    "medicationCodeableConcept",
    "medicationReference",
    "contained",
    "requester",
    "reasonCode",
    "reasonReference",
    "category",
    "dosageInstruction",
    "asNeededBoolean",
    "asNeededCodeableConcept",
    "authoredOn",
    "birthDate",
    "address",
    "postalCode",
    "class",
    "clinicalStatus",
    "verificationStatus",
    "ingredient",
    "itemCodeableConcept",
    "strength",
    "numerator",
    "denominator",
    "form",
    "specialty",
    "organization",
    "practitioner",
    "identifier",
    "whenHandedOver",
    "daysSupply",
    "performer",
    "actor",
    "effectivePeriod",
    "sequence",
    "maxDosePerPeriod",
    "basedOn",
    "priorPrescription",
    "courseOfTherapyType",
    "route",
    "meta",
    "profile",
    "valueCodeableConcept",
    "effectiveDateTime",
    "performedDateTime",
    "qualification",
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(
        [
            "2024-02-30",
            "9999-12-31",
            "0000",
            "2024-01-01T10:00:00Z",
            "#m",
            "Medication/m",
            "urn:uuid:x",
            "N02AA05",
            "57614",
            "mg",
            "d",
            "wk",
            "1",
            "AMB",
            "active",
            "1e308",
        ]
    )
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(FHIR_KEYS), children, max_size=4)
    ),
    max_leaves=12,
)
RESOURCE_TYPES = [
    "MedicationRequest",
    "MedicationDispense",
    "MedicationStatement",
    "Medication",
    "Patient",
    "Condition",
    "Encounter",
    "Observation",
    "Procedure",
    "Practitioner",
    "PractitionerRole",
    "Organization",
]


@st.composite
def garbage_resource(draw: st.DrawFn) -> Any:
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)  # not even an object
    resource = draw(st.dictionaries(st.sampled_from(FHIR_KEYS), json_values, max_size=8))
    resource["resourceType"] = draw(st.sampled_from(RESOURCE_TYPES))
    if draw(st.booleans()):
        resource["id"] = draw(st.sampled_from(["m", "x", "p1", "h1"]))
    return resource


@st.composite
def damaged(draw: st.DrawFn, resource: dict[str, Any]) -> dict[str, Any]:
    """A valid resource with some fields replaced by garbage or removed."""
    result = copy.deepcopy(resource)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key in list(node):
                choice = draw(st.integers(0, 9))
                if choice == 0:
                    node[key] = draw(json_values)
                elif choice == 1:
                    del node[key]
                else:
                    walk(node[key])
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(result)
    return result


VALID = [
    med_request(
        "m",
        concept((PRK, "57614")),
        dosages=[
            dosage(
                frequency=2,
                dose=qty(1, "1"),
                repeat={"boundsPeriod": {"start": "2024-01-01", "end": "2024-01-07"}},
            )
        ],
        dispenseRequest={
            "quantity": qty(28, "1"),
            "numberOfRepeatsAllowed": 1,
            "expectedSupplyDuration": qty(14, "d"),
        },
        extension=[
            {"url": PERIOD_OF_USE, "valuePeriod": {"start": "2024-01-01", "end": "2024-01-14"}}
        ],
        requester={"reference": "PractitionerRole/gp"},
        reasonCode=[concept((ICPC, "L86"))],
        contained=[{"resourceType": "Medication", "id": "c", "code": concept((RXNORM, "245134"))}],
    ),
    {
        "resourceType": "MedicationDispense",
        "id": "x",
        "status": "completed",
        "medicationReference": {"reference": "#c"},
        "contained": [
            {
                "resourceType": "Medication",
                "id": "c",
                "code": concept((ATC, "N02AA01")),
                "ingredient": [
                    {
                        "itemCodeableConcept": concept((ATC, "N02AA01")),
                        "strength": {"numerator": qty(10, "mg"), "denominator": qty(1, "1")},
                    }
                ],
            }
        ],
        "whenHandedOver": "2024-02-01",
        "quantity": qty(30, "1"),
        "dosageInstruction": [dosage(frequency=3, dose=qty(1, "1"))],
        "performer": [{"actor": {"reference": "Organization/o"}}],
    },
    {
        "resourceType": "MedicationStatement",
        "id": "h1",
        "status": "active",
        "medicationCodeableConcept": concept((ATC, "N05BA01")),
        "effectivePeriod": {"start": "2024-01-01"},
        "dosage": [dosage(frequency=1, dose=qty(5, "mg"))],
    },
    {
        "resourceType": "Patient",
        "id": "p1",
        "birthDate": "1980-05-05",
        "address": [{"postalCode": "3771 AB"}],
    },
    {
        "resourceType": "Encounter",
        "id": "e",
        "status": "finished",
        "class": {"code": "AMB"},
        "period": {"start": "2024-02-01"},
    },
    {
        "resourceType": "Condition",
        "id": "c1",
        "code": concept((ICPC, "W78")),
        "clinicalStatus": concept((SNOMED, "active")),
    },
    {
        "resourceType": "Observation",
        "id": "o1",
        "code": concept(("http://loinc.org", "82810-3")),
        "effectiveDateTime": "2024-02-01",
        "valueCodeableConcept": concept((SNOMED, "77386006")),
    },
    {
        "resourceType": "Procedure",
        "id": "s",
        "status": "completed",
        "code": {"text": "operatie"},
        "performedDateTime": "2024-01-01",
    },
    {
        "resourceType": "PractitionerRole",
        "id": "gp",
        "specialty": [concept((AGB_SPECIALISM, "0100"))],
        "practitioner": {"reference": "Practitioner/d"},
        "organization": {"reference": "Organization/o"},
    },
    {
        "resourceType": "Practitioner",
        "id": "d",
        "identifier": [{"system": AGB, "value": "01000001"}],
    },
    {
        "resourceType": "Organization",
        "id": "o",
        "name": "Apotheek",
        "identifier": [{"system": AGB, "value": "06000001"}],
    },
]


def _assert_no_guard_fired(facts: Facts) -> None:
    assert isinstance(facts, Facts)
    assert not [p for p in facts.problems if "not readable" in p.reason], facts.problems


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    drafts=st.lists(garbage_resource(), max_size=3),
    history=st.lists(garbage_resource(), max_size=6),
    context=json_values,
    hook=st.sampled_from(["order-select", "order-sign", "patient-view"]),
)
def test_garbage_never_raises(
    drafts: list[Any], history: list[Any], context: Any, hook: str
) -> None:
    facts = build_facts(
        hook=hook,
        context=context,
        draft_orders=DraftOrders.from_resources(drafts),
        resources=history,
        today=TODAY,
        catalogue=CATALOGUE,
        settings=FactSettings(),
    )
    _assert_no_guard_fired(facts)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_damaged_valid_resources_never_raise(data: st.DataObject) -> None:
    resources = [data.draw(damaged(r)) for r in VALID]
    drafts = [data.draw(damaged(VALID[0]))]
    context = data.draw(
        damaged(
            {
                "patientId": "p1",
                "userId": "PractitionerRole/gp",
                "encounterId": "e",
                "selections": ["MedicationRequest/m"],
            }
        )
    )
    facts = build_facts(
        hook="order-select",
        context=context,
        draft_orders=DraftOrders.from_resources(drafts),
        resources=resources,
        today=TODAY,
        catalogue=CATALOGUE,
        settings=FactSettings(),
    )
    _assert_no_guard_fired(facts)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_readers_are_robust_without_the_guards(data: st.DataObject) -> None:
    """The per-resource readers, called directly (no try/except around them)."""
    resources = [data.draw(damaged(r)) for r in VALID]
    ctx = ReadingContext(
        hook="order-sign",
        context={"patientId": "p1", "userId": "PractitionerRole/gp", "encounterId": "e"},
        drafts=DraftOrders(),
        resources=resources,
        today=TODAY,
        catalogue=CATALOGUE,
        settings=FactSettings(),
    )
    history = HistoryReading()
    request, dispense, statement = resources[0], resources[1], resources[2]
    read_request(ctx, request, "0")
    order_facts(ctx, request, "MedicationRequest/#0", (), frozenset(), (), None)
    read_dispense(ctx, dispense, "1", history)
    read_statement(ctx, statement, "2", history)
    full = read_history(ctx, set(), [])
    patient_facts(ctx, resources, full, [])
    assert not [p for p in ctx.problems if "not readable" in p.reason], ctx.problems


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario())
def test_a_call_leaves_nothing_behind_for_the_next(
    case: tuple[list[dict[str, Any]], list[dict[str, Any]]],
) -> None:
    """Memos live for one call only: building the same facts twice gives the same facts."""
    drafts, history = case
    cold = build(CATALOGUE, drafts, history)
    warm = build(CATALOGUE, drafts, history)
    assert _comparable(warm) == _comparable(cold)
