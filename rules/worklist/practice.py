"""The GP and practice of a patient: `Patient.generalPractitioner`, resolved in the export.

The practice is its AGB code where the export says it (the role's organization, by identifier
or by an Organization resource), so `--practice AGB` can pick one practice's patients.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cds_hooks.references import reference_key
from rules.worklist.patients import Practice

__all__ = ["AGB_SYSTEM", "practice_of"]

AGB_SYSTEM = "http://fhir.nl/fhir/NamingSystem/agb-z"

Resource = Mapping[str, Any]


def _agb(identifiers: object) -> str | None:
    items = identifiers if isinstance(identifiers, list) else [identifiers]
    for item in items:
        if isinstance(item, dict) and item.get("system") == AGB_SYSTEM:
            value = item.get("value")
            if isinstance(value, str) and value:
                return value
    return None


def _key(node: object) -> str | None:
    ref = node.get("reference") if isinstance(node, dict) else None
    return reference_key(ref) if isinstance(ref, str) else None


def _organisation(node: object, shared: Mapping[str, Resource]) -> str | None:
    """An organization reference as its AGB code, else as the reference itself."""
    if not isinstance(node, dict):
        return None
    key = _key(node)
    found = shared.get(key) if key else None
    return _agb(node.get("identifier")) or (_agb(found.get("identifier")) if found else None) or key


def _person(node: object) -> str | None:
    if not isinstance(node, dict):
        return None
    display = node.get("display")
    if isinstance(display, str) and display:
        return display
    return _agb(node.get("identifier")) or _key(node)


def practice_of(patient: Resource | None, shared: Mapping[str, Resource]) -> Practice:
    """The patient's GP (a name, an AGB code or a reference) and practice (an AGB code)."""
    gp: str | None = None
    practice: str | None = None
    nodes = patient.get("generalPractitioner") if patient else None
    for node in nodes if isinstance(nodes, list) else []:
        if not isinstance(node, dict):
            continue
        key = _key(node) or ""
        if key.startswith("PractitionerRole/"):
            role = shared.get(key) or {}
            gp = gp or _person(node if node.get("display") else role.get("practitioner")) or key
            practice = practice or _organisation(role.get("organization"), shared)
        elif key.startswith("Organization/") or (not key and _agb(node.get("identifier"))):
            practice = practice or _organisation(node, shared)
        else:
            gp = gp or _person(node)
    return Practice(gp=gp, practice=practice)
