"""What data the opioid rules need from the client, as CDS Hooks prefetch templates.

The templates keep to the spec's recommended query subset (patient reference, token equality,
`_count`, `_sort`), so every client can honour them. A key the hook *requires* that cannot be
had (no prefetch and no `fhirServer`) gives 412; any other missing key only switches off the
rules listed in `RULES_NEEDING` for that call, and the cards say so.
"""

from __future__ import annotations

from typing import Final

__all__ = ["PREFETCH_TEMPLATES", "REQUIRED_KEYS", "RULES_NEEDING"]

_PATIENT = "{{context.patientId}}"

_HISTORY_TEMPLATES: Final[dict[str, str]] = {
    "patient": f"Patient/{_PATIENT}",
    "medicationRequests": f"MedicationRequest?patient={_PATIENT}&_count=100&_sort=-authoredon",
    "medicationDispenses": f"MedicationDispense?patient={_PATIENT}&_count=100",
    "medicationStatements": f"MedicationStatement?patient={_PATIENT}&_count=100",
    "conditions": f"Condition?patient={_PATIENT}&_count=100",
    "encounters": f"Encounter?patient={_PATIENT}&_count=100&_sort=-date",
    "observations": f"Observation?patient={_PATIENT}&code=http://loinc.org|82810-3",
    "procedures": f"Procedure?patient={_PATIENT}&_count=100",
    "practitionerRoles": "PractitionerRole?practitioner={{userPractitionerId}}",
}

PREFETCH_TEMPLATES: Final[dict[str, dict[str, str]]] = {
    "order-select": {
        key: _HISTORY_TEMPLATES[key]
        for key in (
            "patient",
            "medicationRequests",
            "medicationStatements",
            "conditions",
            "observations",
            "practitionerRoles",
        )
    },
    "order-sign": dict(_HISTORY_TEMPLATES),
    "patient-view": {
        key: _HISTORY_TEMPLATES[key]
        for key in (
            "patient",
            "medicationRequests",
            "medicationDispenses",
            "medicationStatements",
            "conditions",
            "encounters",
        )
    },
}

# Without the medication history the order-sign and patient-view checks would be silently
# wrong (every patient would look like a new user), so that data is required there.
REQUIRED_KEYS: Final[dict[str, frozenset[str]]] = {
    "order-select": frozenset(),
    "order-sign": frozenset({"medicationRequests"}),
    "patient-view": frozenset({"medicationRequests"}),
}

# Which rules cannot be judged without a prefetch key. A rule whose data is missing does not
# run; the other cards name the missing keys in their explanation.
RULES_NEEDING: Final[dict[str, frozenset[str]]] = {
    "medicationRequests": frozenset(
        {
            "follow-up-without-consult",
            "repeat-prescription",
            "specialist-ownership",
            "chronic-use",
            "new-user-education",
            "early-refill",
            "multiple-prescribers",
            "high-daily-dose",
            "opioid-sedative-combination",
            "chronic-user-review",
        }
    ),
    "medicationDispenses": frozenset({"multiple-prescribers", "early-refill"}),
    "encounters": frozenset({"follow-up-without-consult", "repeat-prescription"}),
    "conditions": frozenset(
        {"bony-musculoskeletal-pain", "opioid-use-disorder", "opioid-sedative-combination"}
    ),
    "observations": frozenset({"pregnancy"}),
}
