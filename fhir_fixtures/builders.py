"""Small builders of FHIR R4 / MP9 JSON and CDS Hooks requests: one place for test data.

The tests, the benchmarks (`bench/realistic_request.py`) and the start-up warm-up
(`app/warmup.py`) write their resources with these, so a resource has one shape everywhere.
Every builder returns plain JSON (dicts and lists, new on every call) and takes the fields it
does not know as keyword arguments, added last. Nothing here reads the project's code.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "ACT_CODE",
    "AGB",
    "AGB_SPECIALISM",
    "ATC",
    "CONDITION_CLINICAL",
    "DURATION",
    "EDQM",
    "GPK",
    "GSTD_ROUTE",
    "GSTD_UNIT",
    "HPK",
    "ICD10",
    "ICPC",
    "LOINC",
    "NEXT_PRACTITIONER",
    "PERIOD_OF_USE",
    "PRK",
    "RXNORM",
    "SNOMED",
    "UCUM",
    "UZI_ROLE",
    "ZI",
    "Code",
    "Json",
    "bundle",
    "coding",
    "concept",
    "condition",
    "dispense",
    "dispense_request",
    "dosage",
    "encounter",
    "fhir_authorization",
    "hook_request",
    "med_request",
    "medication",
    "patient",
    "practitioner",
    "practitioner_role",
    "qty",
    "reference",
    "statement",
]

Json = dict[str, Any]
# (system, code) or (system, code, display)
Code = tuple[str, str] | tuple[str, str, str]

# Code systems and identifier systems
ATC = "http://www.whocc.no/atc"
PRK = "urn:oid:2.16.840.1.113883.2.4.4.10"
GPK = "urn:oid:2.16.840.1.113883.2.4.4.1"
HPK = "urn:oid:2.16.840.1.113883.2.4.4.7"
ZI = "urn:oid:2.16.840.1.113883.2.4.4.8"
GSTD_ROUTE = "urn:oid:2.16.840.1.113883.2.4.4.9"
GSTD_UNIT = "urn:oid:2.16.840.1.113883.2.4.4.1.900.2"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
EDQM = "http://standardterms.edqm.eu"
ICPC = "http://hl7.org/fhir/sid/icpc-1-nl"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
AGB_SPECIALISM = "urn:oid:2.16.840.1.113883.2.4.6.7"
UZI_ROLE = "urn:oid:2.16.840.1.113883.2.4.15.111"
AGB = "http://fhir.nl/fhir/NamingSystem/agb-z"
# Nictiz extensions (MP9)
PERIOD_OF_USE = "http://nictiz.nl/fhir/StructureDefinition/ext-TimeInterval.Period"
DURATION = "http://nictiz.nl/fhir/StructureDefinition/ext-TimeInterval.Duration"
NEXT_PRACTITIONER = (
    "http://nictiz.nl/fhir/StructureDefinition/ext-MedicationAgreement.NextPractitioner"
)


def coding(code: Code) -> Json:
    """A Coding from (system, code) or (system, code, display)."""
    node: Json = {"system": code[0], "code": code[1]}
    if len(code) == 3:
        node["display"] = code[2]
    return node


def concept(*codes: Code, text: str | None = None) -> Json:
    """A CodeableConcept: `concept((ATC, "N02AA05"), (PRK, "57614", "OXYCODON ..."), text=...)`."""
    node: Json = {"coding": [coding(code) for code in codes]}
    if text is not None:
        node["text"] = text
    return node


def reference(target: str) -> Json:
    """A Reference: `reference("Patient/p1")`."""
    return {"reference": target}


def qty(value: float, code: str | None = None, unit: str | None = None, system: str = UCUM) -> Json:
    """A Quantity; the system (UCUM unless told) only with a code."""
    node: Json = {"value": value}
    if code is not None:
        node["system"] = system
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
    """A Dosage: `frequency` times a `period` (1 d unless told), a dose Quantity; `repeat=`
    adds to timing.repeat, other keywords to the Dosage."""
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


def dispense_request(
    *, quantity: Json | None = None, days: float | None = None, repeats: int | None = None
) -> Json:
    """A MedicationRequest.dispenseRequest: repeats, quantity, expected supply in days."""
    node: Json = {}
    if repeats is not None:
        node["numberOfRepeatsAllowed"] = repeats
    if quantity is not None:
        node["quantity"] = quantity
    if days is not None:
        node["expectedSupplyDuration"] = qty(days, "d", "d")
    return node


def med_request(
    ident: str,
    medication: Json | None = None,
    *,
    reference: str | None = None,
    dosages: Sequence[Json] = (),
    authored: str | None = "2024-03-01",
    status: str = "active",
    patient: str = "p1",
    **extra: Any,
) -> Json:
    """A MedicationRequest (intent order) of a medicationCodeableConcept or a reference (to a
    Medication); `requester=reference("PractitionerRole/...")` and the like go in `extra`."""
    resource: Json = {
        "resourceType": "MedicationRequest",
        "id": ident,
        "status": status,
        "intent": "order",
        "subject": {"reference": f"Patient/{patient}"},
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


def medication(ident: str, code: Json, **extra: Any) -> Json:
    """A Medication resource of a code (a `concept`)."""
    resource: Json = {"resourceType": "Medication", "id": ident, "code": code}
    resource.update(extra)
    return resource


def dispense(
    ident: str,
    medication: Json,
    handed_over: str,
    days: float,
    *,
    status: str = "completed",
    **extra: Any,
) -> Json:
    """A MedicationDispense handed over on a day, for a number of days' supply."""
    resource: Json = {
        "resourceType": "MedicationDispense",
        "id": ident,
        "status": status,
        "medicationCodeableConcept": medication,
        "whenHandedOver": handed_over,
        "daysSupply": qty(days, "d"),
    }
    resource.update(extra)
    return resource


def statement(
    ident: str,
    medication: Json,
    *,
    status: str = "active",
    start: str | None = None,
    end: str | None = None,
    **extra: Any,
) -> Json:
    """A MedicationStatement, with an effectivePeriod when a start or an end is given."""
    resource: Json = {
        "resourceType": "MedicationStatement",
        "id": ident,
        "status": status,
        "medicationCodeableConcept": medication,
    }
    if start is not None or end is not None:
        resource["effectivePeriod"] = {
            key: value for key, value in (("start", start), ("end", end)) if value is not None
        }
    resource.update(extra)
    return resource


def encounter(
    ident: str,
    klass: str,
    day: str,
    *,
    status: str = "finished",
    patient: str | None = None,
    end_time: str | None = None,
    **extra: Any,
) -> Json:
    """An Encounter of a v3 ActCode class (AMB, VR, HH...) starting at 09:00 on a day."""
    resource: Json = {
        "resourceType": "Encounter",
        "id": ident,
        "status": status,
        "class": {"system": ACT_CODE, "code": klass},
    }
    if patient is not None:
        resource["subject"] = {"reference": f"Patient/{patient}"}
    resource["period"] = {"start": f"{day}T09:00:00+01:00"}
    if end_time is not None:
        resource["period"]["end"] = f"{day}T{end_time}+01:00"
    resource.update(extra)
    return resource


def condition(
    ident: str,
    code: Json,
    status: str | None = "active",
    *,
    patient: str | None = None,
    onset: str | None = None,
    **extra: Any,
) -> Json:
    """A Condition with its clinical status (None: without one)."""
    resource: Json = {"resourceType": "Condition", "id": ident, "code": code}
    if status is not None:
        resource["clinicalStatus"] = concept((CONDITION_CLINICAL, status))
    if patient is not None:
        resource["subject"] = {"reference": f"Patient/{patient}"}
    if onset is not None:
        resource["onsetDateTime"] = onset
    resource.update(extra)
    return resource


def patient(
    ident: str,
    *,
    birth_date: str | None = None,
    gender: str | None = None,
    postcode: str | None = None,
    city: str | None = None,
    **extra: Any,
) -> Json:
    """A Patient; postcode and city make its one address."""
    resource: Json = {"resourceType": "Patient", "id": ident}
    if gender is not None:
        resource["gender"] = gender
    if birth_date is not None:
        resource["birthDate"] = birth_date
    if postcode is not None or city is not None:
        address = {"postalCode": postcode, "city": city}
        resource["address"] = [{key: value for key, value in address.items() if value}]
    resource.update(extra)
    return resource


def practitioner(ident: str, agb: str | None = None, **extra: Any) -> Json:
    """A Practitioner, identified by an AGB code when given."""
    resource: Json = {"resourceType": "Practitioner", "id": ident}
    if agb is not None:
        resource["identifier"] = [{"system": AGB, "value": agb}]
    resource.update(extra)
    return resource


def practitioner_role(
    ident: str,
    *,
    specialty: Json | None = None,
    code: Json | None = None,
    organization: str | None = None,
    organization_agb: str | None = None,
    practitioner: str | None = None,
    **extra: Any,
) -> Json:
    """A PractitionerRole: a specialty and a code (concepts), its practitioner, and its
    organization by reference or by AGB identifier."""
    resource: Json = {"resourceType": "PractitionerRole", "id": ident}
    if practitioner is not None:
        resource["practitioner"] = {"reference": practitioner}
    if organization is not None:
        resource["organization"] = {"reference": organization}
    elif organization_agb is not None:
        resource["organization"] = {"identifier": {"system": AGB, "value": organization_agb}}
    if specialty is not None:
        resource["specialty"] = [specialty]
    if code is not None:
        resource["code"] = [code]
    resource.update(extra)
    return resource


def bundle(
    resources: Iterable[Mapping[str, Any]] = (),
    type: str | None = "searchset",
    *,
    total: bool = False,
    entries: Iterable[Json] = (),
) -> Json:
    """A Bundle of resources (each its own entry) and of ready-made `entries` (with fullUrls);
    `type=None` leaves the type out, `total=True` counts the entries."""
    entry = [{"resource": resource} for resource in resources] + list(entries)
    node: Json = {"resourceType": "Bundle"}
    if type is not None:
        node["type"] = type
    if total:
        node["total"] = len(entry)
    node["entry"] = entry
    return node


def fhir_authorization(access_token: str, scope: str = "user/*.read") -> Json:
    """The fhirAuthorization of a hook request: a bearer token for 30 seconds."""
    return {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": 30,
        "scope": scope,
        "subject": "opioid-cds",
    }


def hook_request(
    hook: str = "order-sign",
    *,
    patient_id: str = "pat-1",
    user_id: str = "Practitioner/gp-1",
    drafts: Sequence[Json] | None = None,
    selections: Sequence[str] | None = None,
    prefetch: Mapping[str, Any] | None = None,
    fhir_server: str | None = None,
    authorization: Json | None = None,
    hook_instance: str | None = None,
    **context: Any,
) -> Json:
    """A CDS Hooks request: `drafts` become the draftOrders collection, `context` adds to (or
    replaces) the context; hookInstance is a new uuid unless given."""
    base: Json = {"userId": user_id, "patientId": patient_id}
    if drafts is not None:
        base["draftOrders"] = bundle(drafts, "collection")
    if selections is not None:
        base["selections"] = list(selections)
    base.update(context)
    body: Json = {
        "hook": hook,
        "hookInstance": hook_instance if hook_instance is not None else str(uuid.uuid4()),
        "context": base,
    }
    if fhir_server is not None:
        body["fhirServer"] = fhir_server
    if authorization is not None:
        body["fhirAuthorization"] = authorization
    if prefetch is not None:
        body["prefetch"] = dict(prefetch)
    return body
