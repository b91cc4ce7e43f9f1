"""A realistic `order-sign` request: a GP drafts oxycodon for a patient with a history.

Patient, ~40 history MedicationRequests (opioids, sedatives and other drugs over a year),
20 Encounters, 10 Conditions; Dutch MP9-shaped codes. Dates are relative to today. The
resources are written with `fhir_fixtures.builders`.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fhir_fixtures.builders import (
    AGB_SPECIALISM,
    ATC,
    GSTD_UNIT,
    ICPC,
    PRK,
    Json,
    bundle,
    concept,
    condition,
    dispense_request,
    dosage,
    encounter,
    hook_request,
    med_request,
    patient,
    practitioner_role,
    qty,
    reference,
)

PATIENT = "pat-bench"
GP_ROLE = "PractitionerRole/gp-role"

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


def _medication_request(index: int, today: date) -> Json:
    prk, display, atc = _HISTORY_DRUGS[index % len(_HISTORY_DRUGS)]
    return med_request(
        f"hist-{index}",
        concept((PRK, prk, display), (ATC, atc), text=display),
        status="completed" if index > 3 else "active",
        authored=(today - timedelta(days=9 * index + 3)).isoformat(),
        patient=PATIENT,
        requester=reference(GP_ROLE),
        dosages=[dosage(frequency=2, dose=qty(1, "245", "stuk", system=GSTD_UNIT))],
        dispenseRequest=dispense_request(quantity=qty(14, unit="stuk"), days=7),
    )


def _encounter(index: int, today: date) -> Json:
    day = (today - timedelta(days=17 * index + 1)).isoformat()
    klass = "AMB" if index % 3 else "VR"
    return encounter(f"enc-{index}", klass, day, patient=PATIENT, end_time="09:15:00")


def _condition(index: int, today: date) -> Json:
    code, display = _CONDITIONS[index % len(_CONDITIONS)]
    onset = (today - timedelta(days=100 * index + 20)).isoformat()
    return condition(f"cond-{index}", concept((ICPC, code, display)), patient=PATIENT, onset=onset)


def realistic_order_sign(today: date | None = None) -> dict[str, Any]:
    today = today or date.today()
    draft = _medication_request(0, today)
    draft.update(id="draft-oxy", status="draft", authoredOn=today.isoformat())
    draft["reasonCode"] = [concept((ICPC, "L03"))]
    gp_role = practitioner_role(
        "gp-role",
        practitioner="Practitioner/gp",
        organization_agb="01012345",
        specialty=concept((AGB_SPECIALISM, "0100", "Huisartsen")),
    )
    return hook_request(
        "order-sign",
        user_id=GP_ROLE,
        patient_id=PATIENT,
        encounterId="enc-1",
        drafts=[draft],
        prefetch={
            "patient": patient(
                PATIENT,
                gender="female",
                birth_date="1958-03-14",
                postcode="3811 AB",
                city="Amersfoort",
            ),
            "practitionerRoles": bundle([gp_role], total=True),
            "medicationRequests": bundle(
                [_medication_request(index, today) for index in range(1, 41)], total=True
            ),
            "medicationDispenses": bundle(total=True),
            "medicationStatements": bundle(total=True),
            "encounters": bundle([_encounter(index, today) for index in range(20)], total=True),
            "conditions": bundle([_condition(index, today) for index in range(10)], total=True),
            "observations": bundle(total=True),
            "procedures": bundle(total=True),
        },
    )
