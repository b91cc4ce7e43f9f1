"""Writes the FHIR fixtures of this folder: `python fhir_fixtures/build_fixtures.py`.

The fixtures are committed; this script is how they were made, so a change to a story is a
change here and a re-run. Every request is anchored at 2026-11-01 (day 0); `rules.fixtures`
moves the dates to the day the tests run.

Two shapes:
- Dutch MP9 (Medicatieproces 9): G-Standaard PRK/GPK codes, the Nictiz period-of-use
  extension, AGB specialism codes on PractitionerRole, ICPC indications.
- Plain R4: RxNorm products, SNOMED/ICD-10 conditions, `expectedSupplyDuration`.
The patients, practitioners and organisations are fictitious (test BSN 999908510 style).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from rules.hooks import HOOK_SPECS

HERE = Path(__file__).resolve().parent
ANCHOR = date(2026, 11, 1)

PRK = "urn:oid:2.16.840.1.113883.2.4.4.10"
GPK = "urn:oid:2.16.840.1.113883.2.4.4.1"
ATC = "http://www.whocc.no/atc"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
ICPC = "http://hl7.org/fhir/sid/icpc-1-nl"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
AGB_SPECIALISM = "urn:oid:2.16.840.1.113883.2.4.6.7"
AGB_Z = "http://fhir.nl/fhir/NamingSystem/agb-z"
BSN = "http://fhir.nl/fhir/NamingSystem/bsn"
G_ROUTE = "urn:oid:2.16.840.1.113883.2.4.4.9"
G_UNIT = "urn:oid:2.16.840.1.113883.2.4.4.1.900.2"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PERIOD_OF_USE = "http://nictiz.nl/fhir/StructureDefinition/ext-TimeInterval.Period"
NEXT_PRACTITIONER = (
    "http://nictiz.nl/fhir/StructureDefinition/ext-MedicationAgreement.NextPractitioner"
)
MA_PROFILE = "http://nictiz.nl/fhir/StructureDefinition/mp-MedicationAgreement"

ALL_RULES = [
    "short-acting-opioid",
    "dosing-frequency",
    "gp-duration-limit",
    "follow-up-without-consult",
    "repeat-prescription",
    "bony-musculoskeletal-pain",
    "missing-indication-or-duration",
    "specialist-ownership",
    "chronic-use",
    "new-user-education",
    "early-refill",
    "multiple-prescribers",
    "opioid-sedative-combination",
    "opioid-use-disorder",
    "high-daily-dose",
    "pregnancy",
]
AGREEMENT_RULES = ALL_RULES[:11]


def day(offset: int) -> str:
    return (ANCHOR + timedelta(days=offset)).isoformat()


def moment(offset: int, time: str = "09:30:00+01:00") -> str:
    return f"{day(offset)}T{time}"


# --- products -----------------------------------------------------------------------------

OXY_MGA_10: dict[str, Any] = {
    "coding": [
        {
            "system": PRK,
            "code": "57614",
            "display": "OXYCODON TABLET MGA 10MG",
            "userSelected": True,
        },
        {"system": GPK, "code": "111430", "display": "OXYCODON TABLET MGA 10MG"},
    ],
    "text": "OXYCODON TABLET MGA 10MG",
}
OXY_TABLET_10: dict[str, Any] = {
    "coding": [
        {"system": PRK, "code": "102059", "display": "OXYCODON TABLET 10MG", "userSelected": True},
        {"system": GPK, "code": "139750", "display": "OXYCODON TABLET 10MG"},
    ],
    "text": "OXYCODON TABLET 10MG",
}
TRAMADOL_RETARD_100: dict[str, Any] = {
    "coding": [
        {"system": PRK, "code": "50431", "display": "TRAMADOL HCL RETARD TABLET MGA 100MG"},
        {"system": GPK, "code": "104213", "display": "TRAMADOL HCL RETARD TABLET MGA 100MG"},
    ],
    "text": "TRAMADOL HCL RETARD TABLET MGA 100MG",
}
FENTANYL_PATCH_12: dict[str, Any] = {
    "coding": [
        {"system": PRK, "code": "86770", "display": "FENTANYL PLEISTER 12UG/UUR"},
        {"system": GPK, "code": "129585", "display": "FENTANYL PLEISTER 12UG/UUR"},
    ],
    "text": "FENTANYL PLEISTER 12UG/UUR",
}
CODEINE_10: dict[str, Any] = {
    "coding": [
        {"system": PRK, "code": "42773", "display": "CODEINE TABLET 10MG (FOSFAAT)"},
        {"system": GPK, "code": "23086", "display": "CODEINE TABLET 10MG (FOSFAAT)"},
    ],
    "text": "CODEINE TABLET 10MG (FOSFAAT)",
}
OXAZEPAM_10: dict[str, Any] = {
    "coding": [{"system": ATC, "code": "N05BA04", "display": "oxazepam"}],
    "text": "OXAZEPAM TABLET 10MG",
}
METHADONE_OAT: dict[str, Any] = {
    "coding": [{"system": ATC, "code": "N07BC02", "display": "methadon"}],
    "text": "METHADON HCL DRANK 1MG/ML",
}
RX_OXY_ER_10: dict[str, Any] = {
    "coding": [
        {
            "system": RXNORM,
            "code": "1049502",
            "display": "12 HR oxycodone hydrochloride 10 MG Extended Release Oral Tablet",
        }
    ],
    "text": "oxycodone 10 MG ER tablet",
}
RX_TRAMADOL_ER_24H: dict[str, Any] = {
    "coding": [
        {
            "system": RXNORM,
            "code": "833709",
            "display": "24 HR tramadol hydrochloride 100 MG Extended Release Oral Tablet",
        }
    ],
    "text": "tramadol 100 MG 24 HR ER tablet",
}
RX_MORPHINE_IR_15: dict[str, Any] = {
    "coding": [
        {"system": RXNORM, "code": "892582", "display": "morphine sulfate 15 MG Oral Tablet"}
    ],
    "text": "morphine 15 MG tablet",
}
RX_TEMAZEPAM: dict[str, Any] = {
    "coding": [{"system": RXNORM, "code": "104693", "display": "temazepam 20 MG Oral Capsule"}],
    "text": "temazepam 20 MG",
}

# --- indications ----------------------------------------------------------------------------


def icpc(code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": ICPC, "code": code, "display": display}], "text": display}


def snomed(code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": SNOMED, "code": code, "display": display}], "text": display}


def icd10(code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": ICD10, "code": code, "display": display}], "text": display}


KIDNEY_STONE = icpc("U95", "Urinesteen")
LOW_BACK_PAIN = icpc("L03", "Lage rugpijn zonder uitstraling")
HIP_FRACTURE = icpc("L75", "Fractuur femur")
POSTOPERATIVE_PAIN = snomed("213299007", "Postoperative pain")

# --- people and places ----------------------------------------------------------------------


def organisation(org_id: str, name: str, agb: str, type_code: str) -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "id": org_id,
        "identifier": [{"system": AGB_Z, "value": agb}],
        "name": name,
        "type": [
            {
                "coding": [
                    {
                        "system": "http://nictiz.nl/fhir/NamingSystem/organization-type",
                        "code": type_code,
                    }
                ]
            }
        ],
    }


def practitioner_role(
    role_id: str,
    practitioner_id: str,
    name: str,
    practitioner_agb: str,
    org: dict[str, Any],
    specialism: str,
    specialism_display: str,
) -> dict[str, Any]:
    return {
        "resourceType": "PractitionerRole",
        "id": role_id,
        "practitioner": {
            "reference": f"Practitioner/{practitioner_id}",
            "identifier": {"system": AGB_Z, "value": practitioner_agb},
            "display": name,
        },
        "organization": {
            "reference": f"Organization/{org['id']}",
            "identifier": org["identifier"][0],
            "display": org["name"],
        },
        "specialty": [
            {
                "coding": [
                    {"system": AGB_SPECIALISM, "code": specialism, "display": specialism_display}
                ]
            }
        ],
    }


EEMHOF = organisation("praktijk-eemhof", "Huisartsenpraktijk De Eemhof", "01999010", "Z3")
VOORBEELDHOF = organisation(
    "praktijk-voorbeeldhof", "Huisartsenpraktijk De Voorbeeldhof", "01999002", "Z3"
)
MEANDER = organisation("meander-mc", "Meander Medisch Centrum", "06999001", "V4")
WIJK_PRAKTIJK = organisation("praktijk-hogeweg", "Huisartsenpraktijk Hogeweg", "01999020", "Z3")

GP = practitioner_role(
    "role-gp-devries",
    "gp-devries",
    "A. de Vries, huisarts",
    "01999101",
    EEMHOF,
    "0100",
    "Huisartsen, niet nader gespecificeerd",
)
GP_VOORBEELDHOF = practitioner_role(
    "role-gp-bakker",
    "gp-bakker",
    "M. Bakker, huisarts",
    "01999102",
    VOORBEELDHOF,
    "0100",
    "Huisartsen, niet nader gespecificeerd",
)
GP_OTHER = practitioner_role(
    "role-gp-smit",
    "gp-smit",
    "J. Smit, huisarts",
    "01999103",
    WIJK_PRAKTIJK,
    "0100",
    "Huisartsen, niet nader gespecificeerd",
)
SURGEON = practitioner_role(
    "role-surgeon-visser",
    "surgeon-visser",
    "dr. P. Visser, orthopedisch chirurg",
    "03999201",
    MEANDER,
    "0305",
    "Orthopedie",
)
ANAESTHETIST = practitioner_role(
    "role-pain-jansen",
    "pain-jansen",
    "dr. K. Jansen, anesthesioloog",
    "03999202",
    MEANDER,
    "0310",
    "Anesthesiologie",
)


def role_ref(role: dict[str, Any]) -> dict[str, Any]:
    return {
        "reference": f"PractitionerRole/{role['id']}",
        "display": role["practitioner"]["display"],
    }


def patient(
    patient_id: str,
    *,
    gender: str = "female",
    birth: str = "1968-04-12",
    postcode: str = "3811 AB",
    city: str = "Amersfoort",
) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": patient_id,
        "identifier": [{"system": BSN, "value": "999908510"}],
        "name": [{"family": "Testpatiënt", "given": ["Fixture"]}],
        "gender": gender,
        "birthDate": birth,
        "address": [{"line": ["Voorbeeldstraat 1"], "postalCode": postcode, "city": city}],
    }


def encounter(
    encounter_id: str,
    offset: int,
    *,
    klass: str = "AMB",
    status: str = "finished",
    type_text: str = "Consult huisarts",
) -> dict[str, Any]:
    display = {"AMB": "ambulatory", "HH": "home health", "VR": "virtual"}[klass]
    return {
        "resourceType": "Encounter",
        "id": encounter_id,
        "status": status,
        "class": {"system": ACT_CODE, "code": klass, "display": display},
        "type": [{"text": type_text}],
        "period": {"start": moment(offset), "end": moment(offset, "09:45:00+01:00")},
    }


def condition(
    condition_id: str, code: dict[str, Any], onset: int, *, category: str = "problem-list-item"
) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": condition_id,
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active",
                }
            ]
        },
        "verificationStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                    "code": "confirmed",
                }
            ]
        },
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                        "code": category,
                    }
                ]
            }
        ],
        "code": code,
        "onsetDateTime": day(onset),
    }


def procedure(
    procedure_id: str, code: dict[str, Any], start: int, *, status: str = "in-progress"
) -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "id": procedure_id,
        "status": status,
        "code": code,
        "subject": {"reference": "Patient/{patient}"},
        "performedPeriod": {"start": day(start)},
    }


# --- medication requests -----------------------------------------------------------------


def mp9_order(
    order_id: str,
    product: dict[str, Any],
    *,
    requester: dict[str, Any] = GP,
    start: int = 0,
    days: int | None = 5,
    indefinite: bool = False,
    per_day: int = 2,
    dose: float = 1,
    as_needed: bool = False,
    reason: dict[str, Any] | None = KIDNEY_STONE,
    repeats: int | None = None,
    status: str = "draft",
    authored: int | None = None,
    next_practitioner: dict[str, Any] | None = None,
    prior: str | None = None,
    course: str | None = None,
    with_period: bool = True,
) -> dict[str, Any]:
    """A Medicatieafspraak (MP9 MedicationAgreement) as a MedicationRequest."""
    period: dict[str, Any] = {"start": day(start)}
    if days is not None and not indefinite:
        period["end"] = day(start + days - 1)
    timing: dict[str, Any] = {"repeat": {"frequency": per_day, "period": 1, "periodUnit": "d"}}
    dosage: dict[str, Any] = {
        "sequence": 1,
        "text": (f"{'zo nodig ' if as_needed else ''}{per_day} maal per dag {dose:g} stuk, oraal"),
        "timing": timing,
        "route": {"coding": [{"system": G_ROUTE, "code": "9", "display": "Oraal"}]},
        "doseAndRate": [
            {
                "doseQuantity": {
                    "value": dose,
                    "unit": "stuk",
                    "system": UCUM,
                    "code": "1",
                    "extension": [
                        {
                            "url": "http://hl7.org/fhir/StructureDefinition/iso21090-PQ-translation",
                            "valueQuantity": {
                                "value": dose,
                                "unit": "stuk",
                                "system": G_UNIT,
                                "code": "245",
                            },
                        }
                    ],
                }
            }
        ],
    }
    if as_needed:
        dosage["asNeededBoolean"] = True
    order: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": order_id,
        "meta": {"profile": [MA_PROFILE]},
        "extension": [],
        "status": status,
        "intent": "order",
        "category": [
            {
                "coding": [
                    {
                        "system": SNOMED,
                        "code": "33633005",
                        "display": "voorschrijven van geneesmiddel",
                    }
                ]
            }
        ],
        "medicationCodeableConcept": product,
        "subject": {"reference": "Patient/{patient}"},
        "authoredOn": moment(start if authored is None else authored),
        "requester": role_ref(requester),
        "dosageInstruction": [dosage],
    }
    if with_period:
        order["extension"].append({"url": PERIOD_OF_USE, "valuePeriod": period})
    if next_practitioner is not None:
        order["extension"].append(
            {"url": NEXT_PRACTITIONER, "valueReference": role_ref(next_practitioner)}
        )
    if not order["extension"]:
        del order["extension"]
    if reason is not None:
        order["reasonCode"] = [reason]
    if days is not None and not indefinite:
        order["dispenseRequest"] = {
            "quantity": {
                "value": days * per_day * dose,
                "unit": "stuk",
                "system": UCUM,
                "code": "1",
            }
        }
    if repeats is not None:
        order.setdefault("dispenseRequest", {})["numberOfRepeatsAllowed"] = repeats
    if prior is not None:
        order["priorPrescription"] = {"reference": f"MedicationRequest/{prior}"}
    if course is not None:
        order["courseOfTherapyType"] = {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy",
                    "code": course,
                }
            ]
        }
    return order


def r4_order(
    order_id: str,
    product: dict[str, Any],
    *,
    requester: dict[str, Any] = GP,
    start: int = 0,
    days: int | None = 5,
    per_day: int = 2,
    dose_mg: float | None = None,
    reason: dict[str, Any] | None = None,
    repeats: int = 0,
    status: str = "draft",
    as_needed: bool = False,
) -> dict[str, Any]:
    """A plain R4 MedicationRequest (RxNorm, expectedSupplyDuration)."""
    dose: dict[str, Any] = (
        {"value": dose_mg, "unit": "mg", "system": UCUM, "code": "mg"}
        if dose_mg is not None
        else {"value": 1, "unit": "tablet", "system": UCUM, "code": "1"}
    )
    dosage: dict[str, Any] = {
        "text": f"{per_day} times a day",
        "timing": {"repeat": {"frequency": per_day, "period": 1, "periodUnit": "d"}},
        "route": {"coding": [{"system": SNOMED, "code": "26643006", "display": "Oral route"}]},
        "doseAndRate": [{"doseQuantity": dose}],
    }
    if as_needed:
        dosage["asNeededBoolean"] = True
    order: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": order_id,
        "status": status,
        "intent": "order",
        "medicationCodeableConcept": product,
        "subject": {"reference": "Patient/{patient}"},
        "authoredOn": moment(start),
        "requester": role_ref(requester),
        "dosageInstruction": [dosage],
        "dispenseRequest": {"numberOfRepeatsAllowed": repeats},
    }
    if days is not None:
        order["dispenseRequest"]["expectedSupplyDuration"] = {
            "value": days,
            "unit": "days",
            "system": UCUM,
            "code": "d",
        }
    if reason is not None:
        order["reasonCode"] = [reason]
    return order


def history_order(
    order_id: str, product: dict[str, Any], start: int, days: int | None, **kwargs: Any
) -> dict[str, Any]:
    """An earlier MP9 prescription (completed), authored on its first day."""
    kwargs.setdefault("status", "completed")
    return mp9_order(order_id, product, start=start, days=days, **kwargs)


def dispense(
    dispense_id: str,
    product: dict[str, Any],
    handed_over: int,
    days_supply: int,
    pharmacy: str = "Apotheek De Gulle Gaper",
    pharmacy_agb: str = "06999501",
) -> dict[str, Any]:
    return {
        "resourceType": "MedicationDispense",
        "id": dispense_id,
        "status": "completed",
        "medicationCodeableConcept": product,
        "subject": {"reference": "Patient/{patient}"},
        "performer": [
            {
                "actor": {
                    "identifier": {"system": AGB_Z, "value": pharmacy_agb},
                    "display": pharmacy,
                }
            }
        ],
        "quantity": {"value": days_supply * 2, "unit": "stuk", "system": UCUM, "code": "1"},
        "daysSupply": {"value": days_supply, "unit": "dag", "system": UCUM, "code": "d"},
        "whenHandedOver": moment(handed_over, "14:00:00+01:00"),
    }


# --- requests ---------------------------------------------------------------------------

# Every fixture carries every prefetch key its service asks for, as a complete EHR would.
PREFETCH_KEYS: dict[str, list[str]] = {spec.hook: list(spec.prefetch) for spec in HOOK_SPECS}
KEY_OF_TYPE: dict[str, Any] = {
    "MedicationRequest": "medicationRequests",
    "MedicationDispense": "medicationDispenses",
    "MedicationStatement": "medicationStatements",
    "Condition": "conditions",
    "Encounter": "encounters",
    "Observation": "observations",
    "Procedure": "procedures",
    "PractitionerRole": "practitionerRoles",
    "Organization": "practitionerRoles",
}
SERVICE: dict[str, Any] = {
    "order-select": "opioid-order-select",
    "order-sign": "opioid-order-sign",
    "patient-view": "opioid-patient-view",
}


def _fill_patient(value: Any, patient_id: str) -> Any:
    if isinstance(value, dict):
        return {key: _fill_patient(item, patient_id) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill_patient(item, patient_id) for item in value]
    if isinstance(value, str):
        return value.replace("{patient}", patient_id)
    return value


@dataclass
class Story:
    name: str
    hook: str
    description: str
    must_fire: list[str]
    must_not_fire: list[str]
    drafts: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    patient: dict[str, Any] = field(default_factory=lambda: patient("pat-0001"))
    user: dict[str, Any] = field(default_factory=lambda: GP)
    encounter: dict[str, Any] | None = field(
        default_factory=lambda: encounter("enc-today", 0, status="in-progress")
    )
    selections: list[str] | None = None
    language: str | None = None

    def request(self) -> dict[str, Any]:
        patient_id = self.patient["id"]
        user = self.user
        org = next(
            o
            for o in (EEMHOF, VOORBEELDHOF, MEANDER, WIJK_PRAKTIJK)
            if o["id"] == user["organization"]["reference"].split("/")[1]
        )
        context: dict[str, Any] = {
            "userId": f"PractitionerRole/{user['id']}",
            "patientId": patient_id,
        }
        if self.encounter is not None and self.hook != "patient-view":
            context["encounterId"] = self.encounter["id"]
        if self.hook != "patient-view":
            if self.selections is not None:
                context["selections"] = self.selections
            elif self.hook == "order-select":
                context["selections"] = [f"MedicationRequest/{d['id']}" for d in self.drafts]
            context["draftOrders"] = {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": draft} for draft in self.drafts],
            }
        resources: dict[str, list[dict[str, Any]]] = {key: [] for key in PREFETCH_KEYS[self.hook]}
        extra = list(self.history)
        if self.encounter is not None:
            extra.append(self.encounter)
        requesters = {user["id"]: user}
        for resource in [*self.drafts, *self.history]:
            reference = resource.get("requester", {}).get("reference", "")
            for role in (GP, GP_VOORBEELDHOF, GP_OTHER, SURGEON, ANAESTHETIST):
                if reference == f"PractitionerRole/{role['id']}":
                    requesters[role["id"]] = role
        extra.extend(requesters.values())
        extra.append(org)
        for resource in extra:
            key = KEY_OF_TYPE[resource["resourceType"]]
            if key in resources:
                resources[key].append(resource)
        prefetch: dict[str, Any] = {}
        for key, items in resources.items():
            if key == "patient":
                prefetch[key] = self.patient
                continue
            prefetch[key] = {
                "resourceType": "Bundle",
                "type": "searchset",
                "total": len(items),
                "entry": [
                    {
                        "fullUrl": f"https://fhir.example.nl/{r['resourceType']}/{r['id']}",
                        "resource": r,
                    }
                    for r in items
                ],
            }
        body = {
            "hook": self.hook,
            "hookInstance": f"fixture-{self.name}",
            "fhirServer": "https://fhir.example.nl",
            "context": context,
            "prefetch": prefetch,
        }
        filled: dict[str, Any] = _fill_patient(body, patient_id)
        return filled

    def expectation(self) -> dict[str, Any]:
        expect: dict[str, Any] = {
            "service": SERVICE[self.hook],
            "description": self.description,
            "must_fire": self.must_fire,
            "must_not_fire": self.must_not_fire,
        }
        if self.language:
            expect["language"] = self.language
        return expect


def others(*fired: str, rules: list[str] = ALL_RULES) -> list[str]:
    return [rule_id for rule_id in rules if rule_id not in fired]


# A course of oxycodon half a year ago: the patient is not a new user, and it is outside the
# 90-day look-back (no follow-up, chronic-use or early-refill signal).
OLD_COURSE = history_order("mr-old-course", OXY_MGA_10, start=-180, days=5)


def prior_course_with_consult(
    prefix: str = "prior", offset: int = -8, days: int = 5
) -> list[dict[str, Any]]:
    return [
        encounter(f"enc-{prefix}", offset, type_text="Consult huisarts (spreekuur)"),
        history_order(f"mr-{prefix}", OXY_MGA_10, start=offset, days=days),
    ]


def stories() -> list[Story]:
    s: list[Story] = []

    # --- the common clinical path ---------------------------------------------------------
    s.append(
        Story(
            "common-path-oxycodon-mga-5-days",
            "order-sign",
            "Common path: oxycodon MGA 10 mg 2x daily for 5 days by the GP, indication urinesteen "
            "(ICPC U95), during a physical consult; an earlier course half a year ago. "
            "No agreement "
            "rule and no safety rule fires.",
            [],
            ALL_RULES,
            drafts=[mp9_order("mr-draft-1", OXY_MGA_10)],
            history=[OLD_COURSE],
        )
    )
    s.append(
        Story(
            "common-path-order-select",
            "order-select",
            "Common path at order-select: oxycodon MGA 2x daily, 5 days, indication stated.",
            [],
            ALL_RULES,
            drafts=[mp9_order("mr-draft-1", OXY_MGA_10)],
            history=[OLD_COURSE],
        )
    )

    # --- rule 1 ---------------------------------------------------------------------------
    s.append(
        Story(
            "short-acting-oxycodon-tablet",
            "order-select",
            "Rule 1 fires: oxycodon tablet 10 mg (short-acting, PRK 102059) 3x daily for 5 days.",
            ["short-acting-opioid"],
            ["dosing-frequency", "bony-musculoskeletal-pain", "pregnancy"],
            drafts=[mp9_order("mr-draft-1", OXY_TABLET_10, per_day=3)],
            history=[OLD_COURSE],
        )
    )
    s.append(
        Story(
            "short-acting-morphine-rxnorm",
            "order-sign",
            "Rule 1 fires on plain R4: morphine 15 mg IR tablet (RxNorm 892582), 4x daily, 5 days.",
            ["short-acting-opioid"],
            ["dosing-frequency", "gp-duration-limit"],
            drafts=[
                r4_order(
                    "mr-draft-1",
                    RX_MORPHINE_IR_15,
                    per_day=4,
                    reason=snomed("95417003", "Primary fibromyalgia syndrome"),
                )
            ],
            history=[OLD_COURSE],
        )
    )
    s.append(
        Story(
            "short-acting-in-palliative-care",
            "order-sign",
            "Palliative patient with lung cancer (ICPC R84): a short-acting oxycodon tablet for 14 "
            "days fires no agreement rule (exclusion); safety rules still apply.",
            [],
            AGREEMENT_RULES,
            drafts=[
                mp9_order(
                    "mr-draft-1",
                    OXY_TABLET_10,
                    per_day=4,
                    days=14,
                    reason=icpc("R84", "Maligniteit bronchus/long"),
                )
            ],
            history=[
                condition("cond-lung-cancer", icpc("R84", "Maligniteit bronchus/long"), -200),
                condition("cond-palliative", snomed("103735009", "Palliative care"), -30),
            ],
        )
    )

    palliative_order = mp9_order(
        "mr-draft-1",
        OXY_TABLET_10,
        per_day=4,
        days=14,
    )
    s.append(
        Story(
            "palliative-care-procedure",
            "order-sign",
            "Palliative care recorded only as an in-progress Procedure (SNOMED 103735009): the "
            "short-acting oxycodon tablet for 14 days fires no agreement rule (exclusion).",
            [],
            AGREEMENT_RULES,
            drafts=[palliative_order],
            history=[
                OLD_COURSE,
                procedure("proc-palliative", snomed("103735009", "Palliative care"), -30),
            ],
        )
    )
    s.append(
        Story(
            "palliative-care-procedure-completed",
            "order-sign",
            "The same order after palliative care was recorded as a completed Procedure: no "
            "exclusion, rules 1 and 3 fire.",
            ["short-acting-opioid", "gp-duration-limit"],
            [],
            drafts=[palliative_order],
            history=[
                OLD_COURSE,
                procedure(
                    "proc-palliative",
                    snomed("103735009", "Palliative care"),
                    -30,
                    status="completed",
                ),
            ],
        )
    )

    # --- rule 2 ---------------------------------------------------------------------------
    s.append(
        Story(
            "dosing-frequency-mga-as-needed",
            "order-select",
            "Rule 2 fires (warning): oxycodon MGA prescribed 'zo nodig'.",
            ["dosing-frequency"],
            ["short-acting-opioid"],
            drafts=[mp9_order("mr-draft-1", OXY_MGA_10, as_needed=True)],
            history=[OLD_COURSE],
        )
    )
    s.append(
        Story(
            "dosing-frequency-tramadol-er-once-daily",
            "order-select",
            "Rule 2 fires (info) on plain R4: 24 HR tramadol ER (RxNorm 833709) once daily.",
            ["dosing-frequency"],
            ["short-acting-opioid"],
            drafts=[
                r4_order(
                    "mr-draft-1",
                    RX_TRAMADOL_ER_24H,
                    per_day=1,
                    reason=snomed("203082005", "Fibromyalgia"),
                )
            ],
            history=[OLD_COURSE],
        )
    )
    s.append(
        Story(
            "fentanyl-patch",
            "order-select",
            "A fentanyl patch 12 ug/h (PRK 86770): patches are out of scope of rule 2, "
            "and long-acting.",
            [],
            ["dosing-frequency", "short-acting-opioid"],
            drafts=[mp9_order("mr-draft-1", FENTANYL_PATCH_12, per_day=1, days=5)],
            history=[OLD_COURSE],
        )
    )

    # --- rule 3 ---------------------------------------------------------------------------
    s.append(
        Story(
            "gp-duration-14-days",
            "order-sign",
            "Rule 3 fires: oxycodon MGA 10 mg 2x daily with a period of use of 14 days (the Nictiz "
            "test case), prescribed by a GP; suggestion: limit to 7 days.",
            ["gp-duration-limit"],
            ["short-acting-opioid", "dosing-frequency"],
            drafts=[mp9_order("mr-draft-1", OXY_MGA_10, days=14)],
            history=[OLD_COURSE],
        )
    )
    s.append(
        Story(
            "gp-duration-indefinite",
            "order-sign",
            "Rule 3 fires: a GP's oxycodon MGA with a period of use that has only a start date "
            "(indefinite use).",
            ["gp-duration-limit"],
            ["short-acting-opioid"],
            drafts=[mp9_order("mr-draft-1", OXY_MGA_10, days=None, indefinite=True)],
            history=[OLD_COURSE],
        )
    )
    s.append(
        Story(
            "specialist-prescribes-14-days",
            "order-sign",
            "A medical specialist (orthopedics, Meander) prescribes oxycodon MGA for 14 days: "
            "rule 3 "
            "is about GPs only.",
            [],
            ["gp-duration-limit", "specialist-ownership"],
            drafts=[
                mp9_order(
                    "mr-draft-1", OXY_MGA_10, days=14, requester=SURGEON, reason=POSTOPERATIVE_PAIN
                )
            ],
            history=[OLD_COURSE],
            user=SURGEON,
        )
    )
    s.append(
        Story(
            "gp-6-days-practice-max-5",
            "order-sign",
            "Practice overlay: De Voorbeeldhof (AGB 01999002) set max_days 5, so a 6-day "
            "order fires "
            "rule 3 there.",
            ["gp-duration-limit"],
            [],
            drafts=[mp9_order("mr-draft-1", OXY_MGA_10, days=6, requester=GP_VOORBEELDHOF)],
            history=[OLD_COURSE],
            user=GP_VOORBEELDHOF,
        )
    )
    s.append(
        Story(
            "gp-6-days-region-default",
            "order-sign",
            "The same 6-day order in a practice without an overlay: the region's 7 days "
            "apply, rule "
            "3 is silent.",
            [],
            ["gp-duration-limit"],
            drafts=[mp9_order("mr-draft-1", OXY_MGA_10, days=6)],
            history=[OLD_COURSE],
        )
    )

    # --- rules 4 and 5 --------------------------------------------------------------------
    s.append(
        Story(
            "follow-up-by-phone",
            "order-sign",
            "Rule 4 fires: a follow-up oxycodon MGA order during a telephone contact; the last "
            "physical consult was the day of the previous prescription 8 days ago.",
            ["follow-up-without-consult"],
            ["new-user-education"],
            drafts=[mp9_order("mr-draft-1", OXY_MGA_10, days=5)],
            history=prior_course_with_consult(),
            encounter=encounter(
                "enc-today", 0, klass="VR", status="in-progress", type_text="Telefonisch consult"
            ),
        )
    )
    s.append(
        Story(
            "follow-up-after-physical-consult",
            "order-sign",
            "A follow-up oxycodon MGA order during a physical consult today: rule 4 is silent.",
            [],
            ["follow-up-without-consult", "repeat-prescription"],
            drafts=[mp9_order("mr-draft-1", OXY_MGA_10, days=5)],
            history=prior_course_with_consult(),
        )
    )
    s.append(
        Story(
            "repeat-prescription-rxnorm",
            "order-sign",
            "Rule 5 fires on plain R4: oxycodone ER 12 HR (RxNorm 1049502) with 2 repeats "
            "(numberOfRepeatsAllowed); suggestion: repeats to 0.",
            ["repeat-prescription"],
            ["short-acting-opioid"],
            drafts=[
                r4_order(
                    "mr-draft-1",
                    RX_OXY_ER_10,
                    repeats=2,
                    reason=snomed("95417003", "Primary fibromyalgia syndrome"),
                )
            ],
            history=[OLD_COURSE],
        )
    )
    s.append(
        Story(
            "repeat-list-continuation",
            "order-sign",
            "Rule 5 fires: a continuous-course MP9 order continuing the previous prescription "
            "(priorPrescription) from the repeat list, without a physical consult since.",
            ["repeat-prescription", "follow-up-without-consult"],
            [],
            drafts=[
                mp9_order("mr-draft-1", OXY_MGA_10, days=5, prior="mr-prior", course="continuous")
            ],
            history=prior_course_with_consult(),
            encounter=None,
        )
    )

    # --- rule 6 ---------------------------------------------------------------------------
    s.append(
        Story(
            "bony-pain-strong-opioid",
            "order-select",
            "Rule 6 fires: oxycodon MGA for lage rugpijn (ICPC L03).",
            ["bony-musculoskeletal-pain"],
            ["short-acting-opioid"],
            drafts=[mp9_order("mr-draft-1", OXY_MGA_10, reason=LOW_BACK_PAIN)],
            history=[OLD_COURSE],
        )
    )
    s.append(
        Story(
            "bony-pain-weak-opioid",
            "order-select",
            "Tramadol retard (a weak opioid) 2x daily for lage rugpijn: rule 6 is about strong "
            "opioids only.",
            [],
            ["bony-musculoskeletal-pain", "short-acting-opioid", "dosing-frequency"],
            drafts=[mp9_order("mr-draft-1", TRAMADOL_RETARD_100, reason=LOW_BACK_PAIN)],
            history=[OLD_COURSE],
        )
    )
    s.append(
        Story(
            "hip-fracture-strong-opioid",
            "order-select",
            "Oxycodon MGA for a femur fracture (ICPC L75): fractures are excluded from rule 6.",
            [],
            ["bony-musculoskeletal-pain"],
            drafts=[mp9_order("mr-draft-1", OXY_MGA_10, reason=HIP_FRACTURE)],
            history=[OLD_COURSE],
        )
    )

    # --- rule 7 ---------------------------------------------------------------------------
    s.append(
        Story(
            "missing-indication-and-duration",
            "order-select",
            "Rule 7 fires: oxycodon MGA 2x daily without indication and without any duration.",
            ["missing-indication-or-duration"],
            ["short-acting-opioid"],
            drafts=[mp9_order("mr-draft-1", OXY_MGA_10, reason=None, days=None, with_period=False)],
            history=[OLD_COURSE],
        )
    )

    # --- rule 8 ---------------------------------------------------------------------------
    surgery = {
        "resourceType": "Procedure",
        "id": "proc-tkp",
        "status": "completed",
        "category": snomed("387713003", "Surgical procedure"),
        "code": snomed("609588000", "Total knee replacement"),
        "subject": {"reference": "Patient/{patient}"},
        "performedDateTime": moment(-21, "08:00:00+01:00"),
    }
    s.append(
        Story(
            "specialist-ownership-postoperative",
            "order-sign",
            "Rule 8 fires: after a knee replacement the orthopedic surgeon prescribed oxycodon MGA "
            "(20 days ago); no handover; the GP now prescribes a follow-up in a physical consult.",
            ["specialist-ownership"],
            ["follow-up-without-consult"],
            drafts=[mp9_order("mr-draft-1", OXY_MGA_10, days=5, reason=POSTOPERATIVE_PAIN)],
            history=[
                surgery,
                history_order(
                    "mr-specialist",
                    OXY_MGA_10,
                    start=-20,
                    days=14,
                    requester=SURGEON,
                    reason=POSTOPERATIVE_PAIN,
                ),
            ],
        )
    )
    s.append(
        Story(
            "specialist-handover-received",
            "order-sign",
            "The surgeon's prescription names the GP as next practitioner "
            "(Nictiz NextPractitioner): "
            "handover recorded, rule 8 is silent.",
            [],
            ["specialist-ownership"],
            drafts=[mp9_order("mr-draft-1", OXY_MGA_10, days=5, reason=POSTOPERATIVE_PAIN)],
            history=[
                surgery,
                history_order(
                    "mr-specialist",
                    OXY_MGA_10,
                    start=-20,
                    days=14,
                    requester=SURGEON,
                    reason=POSTOPERATIVE_PAIN,
                    next_practitioner=GP,
                ),
            ],
        )
    )

    # --- rule 9 ---------------------------------------------------------------------------
    chronic_history = [
        history_order(f"mr-chronic-{n}", OXY_MGA_10, start=-84 + 14 * n, days=14) for n in range(6)
    ] + [encounter("enc-chronic", -14)]
    s.append(
        Story(
            "chronic-use-oxycodon",
            "order-sign",
            "Rule 9 fires: oxycodon MGA continuously for 12 weeks; another 5 days now. Referral "
            "suggestions include the specialised addiction care.",
            ["chronic-use"],
            ["new-user-education"],
            drafts=[mp9_order("mr-draft-1", OXY_MGA_10, days=5)],
            history=chronic_history,
        )
    )
    s.append(
        Story(
            "chronic-use-barneveld",
            "order-sign",
            "Rule 9 fires for a patient in Barneveld (postcode 3771): the addiction-care "
            "suggestion "
            "is the Zorgprogrammacoordinator GGZ.",
            ["chronic-use"],
            [],
            drafts=[mp9_order("mr-draft-1", OXY_MGA_10, days=5)],
            history=chronic_history,
            patient=patient("pat-0002", postcode="3771 KP", city="Barneveld"),
        )
    )

    s.append(
        Story(
            "chronic-use-indefinite",
            "order-sign",
            "Rule 9 fires on a new oxycodon MGA order for an indefinite period (period of use with "
            "only a start); the card says so instead of counting days.",
            ["chronic-use", "gp-duration-limit"],
            ["short-acting-opioid"],
            drafts=[mp9_order("mr-draft-1", OXY_MGA_10, indefinite=True)],
            history=[OLD_COURSE],
        )
    )

    # --- rule 10 --------------------------------------------------------------------------
    s.append(
        Story(
            "new-user-oxycodon",
            "order-sign",
            "Rule 10 fires: no opioid in the past year; oxycodon MGA 2x daily for 5 days after a "
            "physical consult. No other agreement rule fires.",
            ["new-user-education"],
            others("new-user-education", rules=AGREEMENT_RULES),
            drafts=[mp9_order("mr-draft-1", OXY_MGA_10)],
            history=[],
        )
    )

    # --- rule 11 --------------------------------------------------------------------------
    s.append(
        Story(
            "early-refill",
            "order-sign",
            "Rule 11 fires: 10 days ago the pharmacy handed over oxycodon MGA for 20 days; a new "
            "order today while 9 days of supply are left.",
            ["early-refill"],
            ["new-user-education"],
            drafts=[mp9_order("mr-draft-1", OXY_MGA_10, days=5)],
            history=[
                OLD_COURSE,
                dispense("md-1", OXY_MGA_10, handed_over=-10, days_supply=20),
            ],
        )
    )

    # --- rule 12 --------------------------------------------------------------------------
    s.append(
        Story(
            "multiple-prescribers",
            "order-sign",
            "Rule 12 fires: opioids from two other prescribers (a GP elsewhere, a pain "
            "specialist) in "
            "the past 90 days; with this GP that makes three.",
            ["multiple-prescribers"],
            [],
            drafts=[mp9_order("mr-draft-1", OXY_MGA_10, days=5)],
            history=[
                history_order("mr-other-gp", OXY_TABLET_10, start=-60, days=5, requester=GP_OTHER),
                history_order(
                    "mr-pain", TRAMADOL_RETARD_100, start=-40, days=7, requester=ANAESTHETIST
                ),
                encounter("enc-earlier", -5),
            ],
        )
    )

    # --- rule 13 --------------------------------------------------------------------------
    oxazepam_active = history_order(
        "mr-oxazepam",
        OXAZEPAM_10,
        start=-30,
        days=None,
        indefinite=True,
        status="active",
        reason=icpc("P01", "Angstig/nerveus/gespannen gevoel"),
        per_day=1,
    )
    s.append(
        Story(
            "opioid-with-benzodiazepine",
            "order-sign",
            "Rule 13 fires: oxycodon MGA while oxazepam is active.",
            ["opioid-sedative-combination"],
            [],
            drafts=[mp9_order("mr-draft-1", OXY_MGA_10)],
            history=[OLD_COURSE, oxazepam_active],
        )
    )
    s.append(
        Story(
            "benzodiazepine-with-active-opioid",
            "order-select",
            "Rule 13 fires the other way round: temazepam (RxNorm 104693) is drafted while an "
            "oxycodon MGA prescription is active.",
            ["opioid-sedative-combination"],
            ["short-acting-opioid"],
            drafts=[
                r4_order(
                    "mr-draft-1",
                    RX_TEMAZEPAM,
                    per_day=1,
                    days=5,
                    reason=icpc("P06", "Slaapstoornis"),
                )
            ],
            history=[history_order("mr-active-oxy", OXY_MGA_10, start=-3, days=7, status="active")],
        )
    )

    s.append(
        Story(
            "opioid-with-dispensed-benzodiazepine",
            "order-sign",
            "Rule 13 fires: oxycodon MGA while oxazepam, known only from a dispense 5 days ago "
            "(daysSupply 30), is still in use.",
            ["opioid-sedative-combination"],
            [],
            drafts=[mp9_order("mr-draft-1", OXY_MGA_10)],
            history=[OLD_COURSE, dispense("md-oxazepam", OXAZEPAM_10, -5, 30)],
        )
    )
    s.append(
        Story(
            "opioid-after-dispensed-benzodiazepine-ran-out",
            "order-sign",
            "Rule 13 stays silent: the oxazepam dispense of 40 days ago (daysSupply 30) has run "
            "out.",
            [],
            ["opioid-sedative-combination"],
            drafts=[mp9_order("mr-draft-1", OXY_MGA_10)],
            history=[OLD_COURSE, dispense("md-oxazepam", OXAZEPAM_10, -40, 30)],
        )
    )
    temazepam_draft = r4_order(
        "mr-draft-temazepam",
        RX_TEMAZEPAM,
        per_day=1,
        days=5,
        reason=icpc("P06", "Slaapstoornis"),
    )
    s.append(
        Story(
            "benzodiazepine-with-unselected-opioid-draft",
            "order-select",
            "Rule 13 fires the other way round: temazepam is selected while an oxycodon MGA order "
            "is also drafted (not selected); no opioid in the history.",
            ["opioid-sedative-combination"],
            ["short-acting-opioid"],
            drafts=[temazepam_draft, mp9_order("mr-draft-1", OXY_MGA_10)],
            selections=["MedicationRequest/mr-draft-temazepam"],
        )
    )
    s.append(
        Story(
            "benzodiazepine-without-opioid",
            "order-select",
            "Rule 13 stays silent: temazepam is drafted with no opioid drafted or active.",
            [],
            ["opioid-sedative-combination"],
            drafts=[temazepam_draft],
            history=[OLD_COURSE],
        )
    )

    # --- rule 14 --------------------------------------------------------------------------
    s.append(
        Story(
            "opioid-use-disorder",
            "order-sign",
            "Rule 14 fires: an oxycodon order for a patient with opioid dependence (ICD-10 F11.2); "
            "suggestions: naloxone and referral to addiction care.",
            ["opioid-use-disorder"],
            [],
            drafts=[mp9_order("mr-draft-1", OXY_MGA_10)],
            history=[OLD_COURSE, condition("cond-oud", icd10("F11.2", "Opioid dependence"), -400)],
        )
    )
    s.append(
        Story(
            "oat-methadone",
            "order-sign",
            "Methadone as opioid agonist treatment (ATC N07BC02) for a patient with opioid "
            "dependence: no pain-prescribing rule and no OUD card for the OAT order.",
            [],
            [
                "opioid-use-disorder",
                "short-acting-opioid",
                "gp-duration-limit",
                "dosing-frequency",
                "new-user-education",
                "chronic-use",
            ],
            drafts=[
                mp9_order(
                    "mr-draft-1",
                    METHADONE_OAT,
                    per_day=1,
                    days=14,
                    reason=icd10("F11.2", "Opioid dependence"),
                )
            ],
            history=[condition("cond-oud", icd10("F11.2", "Opioid dependence"), -400)],
        )
    )

    # --- rule 15 --------------------------------------------------------------------------
    s.append(
        Story(
            "high-daily-dose",
            "order-select",
            "Rule 15 fires: oxycodon MGA 10 mg, 4 tablets 2x daily (80 mg oxycodone = 120 mg OME).",
            ["high-daily-dose"],
            [],
            drafts=[mp9_order("mr-draft-1", OXY_MGA_10, dose=4)],
            history=[OLD_COURSE],
        )
    )

    current_supply = history_order(
        "mr-current-oxy", OXY_MGA_10, start=-10, days=15, dose=2, status="active"
    )
    s.append(
        Story(
            "high-daily-dose-renewal",
            "order-sign",
            "Rule 15 stays silent: the renewal of oxycodon MGA 20 mg 2x daily (60 mg OME) starts "
            "the day after the active supply ends, so the doses do not add up.",
            [],
            ["high-daily-dose"],
            drafts=[mp9_order("mr-draft-1", OXY_MGA_10, start=5, authored=0, dose=2)],
            history=[current_supply, encounter("enc-earlier", -10)],
        )
    )
    s.append(
        Story(
            "high-daily-dose-overlapping",
            "order-sign",
            "Rule 15 fires: the same 60 mg OME order starting today, while the active supply runs "
            "until day 4: 120 mg OME a day.",
            ["high-daily-dose"],
            [],
            drafts=[mp9_order("mr-draft-1", OXY_MGA_10, dose=2)],
            history=[current_supply, encounter("enc-earlier", -10)],
        )
    )

    # --- rule 16 --------------------------------------------------------------------------
    s.append(
        Story(
            "pregnancy",
            "order-select",
            "Rule 16 fires: oxycodon for a patient with an active pregnancy (ICPC W78).",
            ["pregnancy"],
            [],
            drafts=[mp9_order("mr-draft-1", OXY_MGA_10)],
            history=[OLD_COURSE, condition("cond-pregnant", icpc("W78", "Zwangerschap"), -90)],
            patient=patient("pat-0003", birth="1994-06-02"),
        )
    )

    # --- patient-view ---------------------------------------------------------------------
    s.append(
        Story(
            "patient-view-chronic-user",
            "patient-view",
            "Opening the record of a patient on oxycodon MGA for 12 weeks: "
            "chronic-user-review with "
            "the standard e-mail and referral routes.",
            ["chronic-user-review"],
            ["opioid-use-disorder", "opioid-sedative-combination"],
            history=chronic_history,
        )
    )
    s.append(
        Story(
            "patient-view-no-opioids",
            "patient-view",
            "Opening the record of a patient with a single short course half a year ago: no card.",
            [],
            [
                "chronic-user-review",
                "multiple-prescribers",
                "opioid-sedative-combination",
                "opioid-use-disorder",
            ],
            history=[OLD_COURSE],
        )
    )
    s.append(
        Story(
            "patient-view-opioid-and-benzodiazepine",
            "patient-view",
            "Opening the record: active oxycodon and active oxazepam; rule 13 on the active "
            "medication.",
            ["opioid-sedative-combination"],
            ["opioid-use-disorder"],
            history=[
                history_order("mr-active-oxy", OXY_MGA_10, start=-3, days=7, status="active"),
                oxazepam_active,
            ],
        )
    )

    # --- English ----------------------------------------------------------------------------
    s.append(
        Story(
            "english-gp-duration",
            "order-sign",
            "The same 14-day order with Accept-Language: en; the cards are in English.",
            ["gp-duration-limit"],
            ["short-acting-opioid"],
            drafts=[mp9_order("mr-draft-1", OXY_MGA_10, days=14)],
            history=[OLD_COURSE],
            language="en",
        )
    )

    # --- a realistic large order-sign request (performance) ----------------------------------
    big_history: list[dict[str, Any]] = []
    for n in range(40):
        product = [OXY_MGA_10, TRAMADOL_RETARD_100, OXY_TABLET_10, CODEINE_10][n % 4]
        big_history.append(
            history_order(
                f"mr-hist-{n:02d}",
                product,
                start=-720 + 16 * n,
                days=7,
                requester=GP if n % 3 else GP_OTHER,
            )
        )
    big_history += [encounter(f"enc-{n:02d}", -700 + 35 * n) for n in range(20)]
    big_codes = [
        icpc("K86", "Hypertensie zonder orgaanbeschadiging"),
        icpc("T90", "Diabetes mellitus"),
        icpc("L03", "Lage rugpijn zonder uitstraling"),
        icpc("P76", "Depressie"),
        icpc("R96", "Astma"),
        icpc("L90", "Artrose knie"),
        icpc("K77", "Hartfalen"),
        icpc("T93", "Vetstofwisselingsstoornis"),
        icpc("N89", "Migraine"),
        icpc("D84", "Oesofagusaandoening"),
    ]
    big_history += [
        condition(f"cond-{n}", code, -1000 + 50 * n) for n, code in enumerate(big_codes)
    ]
    s.append(
        Story(
            "large-history-order-sign",
            "order-sign",
            "Performance: oxycodon MGA for 5 days for a patient with 40 earlier prescriptions, 20 "
            "encounters and 10 conditions; the last opioid was 96 days ago.",
            [],
            ["short-acting-opioid", "dosing-frequency", "gp-duration-limit"],
            drafts=[mp9_order("mr-draft-1", OXY_MGA_10)],
            history=big_history,
        )
    )
    return s


def main() -> None:
    for story in stories():
        (HERE / f"{story.name}.json").write_text(
            json.dumps(story.request(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        (HERE / f"{story.name}.expect.yaml").write_text(
            yaml.safe_dump(story.expectation(), sort_keys=False, allow_unicode=True, width=100),
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
