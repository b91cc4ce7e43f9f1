"""What data the opioid rules need from the client, as CDS Hooks prefetch templates.

The templates keep to the spec's recommended query subset (patient reference, token equality,
`_count`, `_sort`), so every client can honour them. A key the hook *requires* that cannot be
had (no prefetch and no `fhirServer`) gives 412; any other missing key only switches off the
rules listed in `RULES_NEEDING` for that call, and the cards say so (`missing_data` in the
explanation).
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
            "medicationDispenses",  # sedatives known only from the pharmacy (rule 13)
            "medicationStatements",
            "conditions",
            "observations",
            "procedures",  # palliative care recorded as a procedure (exclusions)
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
            "procedures",
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

# Which rules cannot be judged without a prefetch key. Only rules that would fire *wrongly*
# on incomplete data are switched off: "no opioid in a year" (new user) or "no consult since"
# cannot be concluded from data we do not have. Rules that fire on positive evidence (a
# sedative, a pregnancy, a high dose, many prescribers) still run: what they find is true, and
# the explanation of every card lists the missing keys, so nobody takes silence for an all-clear.
RULES_NEEDING: Final[dict[str, frozenset[str]]] = {
    "medicationRequests": frozenset(
        {
            "follow-up-without-consult",
            "repeat-prescription",
            "specialist-ownership",
            "new-user-education",
        }
    ),
    "medicationDispenses": frozenset({"new-user-education"}),
    "medicationStatements": frozenset({"new-user-education"}),
    "encounters": frozenset({"follow-up-without-consult", "repeat-prescription"}),
}
