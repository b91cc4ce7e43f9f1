"""A realistic `order-sign` request: a GP drafts oxycodon for a patient with a history.

Patient, ~40 history MedicationRequests (opioids, sedatives and other drugs over a year),
20 Encounters, 10 Conditions; Dutch MP9-shaped codes. Dates are relative to today.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

GSTANDAARD_PRK = "urn:oid:2.16.840.1.113883.2.4.4.10"
ATC = "http://www.whocc.no/atc"
ICPC = "http://hl7.org/fhir/sid/icpc-1-nl"
AGB = "http://fhir.nl/fhir/NamingSystem/agb-z"

_HISTORY_DRUGS = [
    ("57614", "OXYCODON TABLET MGA 10MG", "N02AA05"),
    ("102059", "OXYCODON TABLET 10MG", "N02AA05"),
    ("35475", "TRAMADOL CAPSULE 50MG", "N02AX02"),
    ("19844", "OXAZEPAM TABLET 10MG", "N05BA04"),
    ("20176", "PARACETAMOL TABLET 500MG", "N02BE01"),
    ("24678", "OMEPRAZOL CAPSULE MSR 20MG", "A02BC01"),
    ("26042", "METFORMINE TABLET 500MG", "A10BA02"),
    ("33146", "MACROGOL/ZOUTEN POEDER", "A06AD65"),
]


def _medication_request(index: int, today: date) -> dict[str, Any]:
    prk, display, atc = _HISTORY_DRUGS[index % len(_HISTORY_DRUGS)]
    authored = today - timedelta(days=9 * index + 3)
    return {
        "resourceType": "MedicationRequest",
        "id": f"hist-{index}",
        "status": "completed" if index > 3 else "active",
        "intent": "order",
        "subject": {"reference": "Patient/pat-bench"},
        "authoredOn": authored.isoformat(),
        "requester": {"reference": "PractitionerRole/gp-role"},
        "medicationCodeableConcept": {
            "coding": [
                {"system": GSTANDAARD_PRK, "code": prk, "display": display},
                {"system": ATC, "code": atc},
            ],
            "text": display,
        },
        "dosageInstruction": [
            {
                "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
                "doseAndRate": [
                    {
                        "doseQuantity": {
                            "value": 1,
                            "unit": "stuk",
                            "system": "urn:oid:2.16.840.1.113883.2.4.4.1.900.2",
                            "code": "245",
                        }
                    }
                ],
            }
        ],
        "dispenseRequest": {
            "quantity": {"value": 14, "unit": "stuk"},
            "expectedSupplyDuration": {
                "value": 7,
                "unit": "d",
                "system": "http://unitsofmeasure.org",
                "code": "d",
            },
        },
    }


def _encounter(index: int, today: date) -> dict[str, Any]:
    start = today - timedelta(days=17 * index + 1)
    return {
        "resourceType": "Encounter",
        "id": f"enc-{index}",
        "status": "finished",
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "AMB" if index % 3 else "VR",
        },
        "subject": {"reference": "Patient/pat-bench"},
        "period": {
            "start": f"{start.isoformat()}T09:00:00+01:00",
            "end": f"{start.isoformat()}T09:15:00+01:00",
        },
    }


_CONDITIONS = [
    ("L03", "Lage rugpijn"),
    ("K86", "Hypertensie"),
    ("T90", "Diabetes mellitus"),
    ("L84", "Rugklachten met uitstraling"),
    ("P06", "Slaapstoornis"),
    ("R96", "Astma"),
    ("D84", "Oesofagitis"),
    ("L89", "Artrose heup"),
    ("K74", "Angina pectoris"),
    ("P76", "Depressie"),
]


def _condition(index: int, today: date) -> dict[str, Any]:
    code, display = _CONDITIONS[index % len(_CONDITIONS)]
    return {
        "resourceType": "Condition",
        "id": f"cond-{index}",
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active",
                }
            ]
        },
        "code": {"coding": [{"system": ICPC, "code": code, "display": display}]},
        "subject": {"reference": "Patient/pat-bench"},
        "onsetDateTime": (today - timedelta(days=100 * index + 20)).isoformat(),
    }


def _searchset(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [{"resource": resource} for resource in resources],
    }


def realistic_order_sign(today: date | None = None) -> dict[str, Any]:
    today = today or date.today()
    draft = _medication_request(0, today)
    draft.update(id="draft-oxy", status="draft", authoredOn=today.isoformat())
    draft["reasonCode"] = [{"coding": [{"system": ICPC, "code": "L03"}]}]
    return {
        "hook": "order-sign",
        "hookInstance": str(uuid.uuid4()),
        "context": {
            "userId": "PractitionerRole/gp-role",
            "patientId": "pat-bench",
            "encounterId": "enc-1",
            "draftOrders": {
                "resourceType": "Bundle",
                "type": "collection",
                "entry": [{"resource": draft}],
            },
        },
        "prefetch": {
            "patient": {
                "resourceType": "Patient",
                "id": "pat-bench",
                "gender": "female",
                "birthDate": "1958-03-14",
                "address": [{"postalCode": "3811 AB", "city": "Amersfoort"}],
            },
            "practitionerRoles": _searchset(
                [
                    {
                        "resourceType": "PractitionerRole",
                        "id": "gp-role",
                        "practitioner": {"reference": "Practitioner/gp"},
                        "organization": {"identifier": {"system": AGB, "value": "01012345"}},
                        "specialty": [
                            {
                                "coding": [
                                    {
                                        "system": "urn:oid:2.16.840.1.113883.2.4.6.7",
                                        "code": "0100",
                                        "display": "Huisartsen",
                                    }
                                ]
                            }
                        ],
                    }
                ]
            ),
            "medicationRequests": _searchset(
                [_medication_request(index, today) for index in range(1, 41)]
            ),
            "medicationDispenses": _searchset([]),
            "medicationStatements": _searchset([]),
            "encounters": _searchset([_encounter(index, today) for index in range(20)]),
            "conditions": _searchset([_condition(index, today) for index in range(10)]),
            "observations": _searchset([]),
            "procedures": _searchset([]),
        },
    }
