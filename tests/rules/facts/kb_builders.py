"""Builders for the knowledge-base (catalogue + facts) tests (``tests.rules.facts.kb_builders``).

The resources are written by hand from the facts in reference/opioid-cds.md (codes, doses,
expected values); no third-party fixture file is copied.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from cds_hooks.draft_orders import DraftOrders
from rules.catalogue import Catalogue
from rules.facts import Facts, FactSettings, OrderFacts, build_facts

TODAY = date(2024, 3, 1)

ATC = "http://www.whocc.no/atc"
PRK = "urn:oid:2.16.840.1.113883.2.4.4.10"
GPK = "urn:oid:2.16.840.1.113883.2.4.4.1"
HPK = "urn:oid:2.16.840.1.113883.2.4.4.7"
ZI = "urn:oid:2.16.840.1.113883.2.4.4.8"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
EDQM = "http://standardterms.edqm.eu"
ICPC = "http://hl7.org/fhir/sid/icpc-1-nl"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
AGB_SPECIALISM = "urn:oid:2.16.840.1.113883.2.4.6.7"
UZI_ROLE = "urn:oid:2.16.840.1.113883.2.4.15.111"
AGB = "http://fhir.nl/fhir/NamingSystem/agb-z"
GSTD_ROUTE = "urn:oid:2.16.840.1.113883.2.4.4.9"
PERIOD_OF_USE = "http://nictiz.nl/fhir/StructureDefinition/ext-TimeInterval.Period"
DURATION = "http://nictiz.nl/fhir/StructureDefinition/ext-TimeInterval.Duration"
NEXT_PRACTITIONER = (
    "http://nictiz.nl/fhir/StructureDefinition/ext-MedicationAgreement.NextPractitioner"
)

Json = dict[str, Any]


def concept(*codes: tuple[str, str] | tuple[str, str, str], text: str | None = None) -> Json:
    node: Json = {"coding": [_coding(c) for c in codes]}
    if text is not None:
        node["text"] = text
    return node


def _coding(code: tuple[str, str] | tuple[str, str, str]) -> Json:
    coding: Json = {"system": code[0], "code": code[1]}
    if len(code) == 3:
        coding["display"] = code[2]
    return coding


def qty(value: float, code: str | None = None, unit: str | None = None) -> Json:
    node: Json = {"value": value}
    if code is not None:
        node["system"] = UCUM
        node["code"] = code
    if unit is not None:
        node["unit"] = unit
    return node


def dosage(
    *,
    frequency: float | None = None,
    period: float | None = 1,
    period_unit: str | None = "d",
    dose: Json | None = None,
    as_needed: bool | None = None,
    time_of_day: Sequence[str] | None = None,
    **extra: Any,
) -> Json:
    repeat: Json = {}
    if frequency is not None:
        repeat["frequency"] = frequency
    if period is not None and (frequency is not None or time_of_day is None):
        repeat["period"] = period
        if period_unit is not None:
            repeat["periodUnit"] = period_unit
    if time_of_day is not None:
        repeat["timeOfDay"] = list(time_of_day)
    repeat.update(extra.pop("repeat", {}))
    instruction: Json = {"timing": {"repeat": repeat}}
    if dose is not None:
        instruction["doseAndRate"] = [{"doseQuantity": dose}]
    if as_needed is not None:
        instruction["asNeededBoolean"] = as_needed
    instruction.update(extra)
    return instruction


def med_request(
    ident: str,
    medication: Json | None = None,
    *,
    reference: str | None = None,
    dosages: Sequence[Json] = (),
    authored: str | None = "2024-03-01",
    status: str = "active",
    **extra: Any,
) -> Json:
    resource: Json = {
        "resourceType": "MedicationRequest",
        "id": ident,
        "status": status,
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
    }
    if medication is not None:
        resource["medicationCodeableConcept"] = medication
    if reference is not None:
        resource["medicationReference"] = {"reference": reference}
    if authored is not None:
        resource["authoredOn"] = authored
    if dosages:
        resource["dosageInstruction"] = list(dosages)
    resource.update(extra)
    return resource


def build(
    catalogue: Catalogue,
    drafts: Sequence[Mapping[str, Any]] = (),
    resources: Sequence[Mapping[str, Any]] = (),
    *,
    hook: str = "order-sign",
    context: Mapping[str, Any] | None = None,
    today: date = TODAY,
    settings: FactSettings | None = None,
) -> Facts:
    return build_facts(
        hook=hook,
        context=context if context is not None else {"patientId": "p1"},
        draft_orders=DraftOrders.from_resources(drafts),
        resources=resources,
        today=today,
        catalogue=catalogue,
        settings=settings or FactSettings(),
    )


def only_order(facts: Facts) -> OrderFacts:
    assert len(facts.orders) == 1, facts.orders
    return facts.orders[0]


def order_of(catalogue: Catalogue, request: Json, *extra: Mapping[str, Any]) -> OrderFacts:
    """Facts of one drafted request (extra resources: its Medication, PractitionerRole...)."""
    return only_order(build(catalogue, [request], list(extra)))
