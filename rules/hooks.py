"""The CDS services this deployment offers: one entry per hook. Adding a hook is one entry here
plus the rules that list it in the rule set (`hooks:`).

An entry names the protocol's context model (which names the hook), the discovery texts and
the prefetch templates. The templates keep to the spec's recommended query subset (patient
reference, token equality, `_count`, `_sort`), so every client can honour them. A required key
that cannot be had (no prefetch and no `fhirServer`) gives 412; any other missing key only
switches off the rules that declare they need it (`@rule(..., needs=...)`), and the cards say
so (`missing_data` in the explanation).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Annotated, Any, Final

from pydantic import PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from cds_hooks.contexts import (
    HookContext,
    OrderSelectContext,
    OrderSignContext,
    PatientViewContext,
)

__all__ = [
    "HOOK_NAMES",
    "HOOK_SPECS",
    "ORDER_SELECT",
    "ORDER_SIGN",
    "PATIENT_VIEW",
    "PREFETCH_KEYS",
    "SPEC_BY_HOOK",
    "SPEC_BY_SERVICE",
    "HookName",
    "HookSpec",
    "ServiceId",
]


@dataclass(frozen=True)
class HookSpec:
    """One hook and the service that answers it."""

    service_id: str
    context: type[HookContext]
    title: str
    description: str
    usage: str
    prefetch: Mapping[str, str]
    required_keys: frozenset[str] = frozenset()
    """Without these the answer would be silently wrong, so their absence is an error (412)."""
    judges_selected_orders_only: bool = False
    """The rules judge only the orders the clinician selected; the other drafts are context."""
    drafts_being_composed: bool = False
    """The hook fires while the orders are still being filled in: a draft that states no
    medication yet is not a gap to report (an unreadable one still is)."""

    def __post_init__(self) -> None:
        if not self.required_keys <= self.prefetch.keys():
            raise ValueError(f"{self.service_id}: a required key has no prefetch template")

    @property
    def hook(self) -> str:
        return self.context.hook

    @cached_property
    def has_draft_orders(self) -> bool:
        return "draft_orders" in self.context.model_fields


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


def _templates(*keys: str) -> dict[str, str]:
    return {key: _HISTORY_TEMPLATES[key] for key in keys}


_USAGE = (
    "Send the draft MedicationRequests in context.draftOrders (FHIR R4; Nictiz MP9 "
    "MedicationAgreement profiles welcome). Prefetch the listed keys, or pass fhirServer and "
    "fhirAuthorization so the service can fetch them. Authenticate with a signed JWT "
    "(ES384/RS384) as CDS Hooks 2.0 describes."
)

ORDER_SELECT: Final = HookSpec(
    service_id="opioid-order-select",
    context=OrderSelectContext,
    title="Opioïden: regionale afspraken bij het kiezen van een opioïd",
    description=(
        "Checks the selected opioid orders against the regio Eemland opioid "
        "agreements: long-acting forms 2-3x daily, no strong opioids for bony "
        "musculoskeletal pain, indication and duration, sedatives, opioid use "
        "disorder, daily dose and pregnancy."
    ),
    usage=_USAGE,
    prefetch=_templates(
        "patient",
        "medicationRequests",
        "medicationDispenses",  # sedatives known only from the pharmacy (rule 13)
        "medicationStatements",
        "conditions",
        "observations",
        "procedures",  # palliative care recorded as a procedure (exclusions)
        "practitionerRoles",
    ),
    judges_selected_orders_only=True,
    drafts_being_composed=True,
)

# Without the medication history the signing and patient checks would be silently wrong
# (every patient would look like a new user), so that data is required there.
ORDER_SIGN: Final = HookSpec(
    service_id="opioid-order-sign",
    context=OrderSignContext,
    title="Opioïden: regionale afspraken bij het ondertekenen",
    description=(
        "Checks every drafted opioid order against all regio Eemland opioid "
        "agreements, including the history checks: GP maximum of one week, follow-up "
        "only after a physical consult, no repeats, specialist ownership, chronic "
        "use, early refills and multiple prescribers."
    ),
    usage=_USAGE + " The medication history (medicationRequests) is required.",
    prefetch=dict(_HISTORY_TEMPLATES),
    required_keys=frozenset({"medicationRequests"}),
)

PATIENT_VIEW: Final = HookSpec(
    service_id="opioid-patient-view",
    context=PatientViewContext,
    title="Opioïden: chronisch gebruik signaleren",
    description=(
        "Identifies chronic opioid users (more than 4 weeks in the look-back) and "
        "offers the regional conversation template and referral routes."
    ),
    usage="Prefetch the medication history (medicationRequests); authenticate with a signed JWT.",
    prefetch=_templates(
        "patient",
        "medicationRequests",
        "medicationDispenses",
        "medicationStatements",
        "conditions",
        "encounters",
        "procedures",
    ),
    required_keys=frozenset({"medicationRequests"}),
)

HOOK_SPECS: Final[tuple[HookSpec, ...]] = (ORDER_SELECT, ORDER_SIGN, PATIENT_VIEW)
"""In discovery order."""
SPEC_BY_HOOK: Final[Mapping[str, HookSpec]] = {spec.hook: spec for spec in HOOK_SPECS}
SPEC_BY_SERVICE: Final[Mapping[str, HookSpec]] = {spec.service_id: spec for spec in HOOK_SPECS}
HOOK_NAMES: Final[tuple[str, ...]] = tuple(SPEC_BY_HOOK)
PREFETCH_KEYS: Final[frozenset[str]] = frozenset(_HISTORY_TEMPLATES)


def _one_of(names: tuple[str, ...]) -> PlainValidator:
    """Accepts a string among `names`, with the error a `Literal` of them would give."""
    expected = ", ".join(repr(name) for name in names[:-1]) + f" or {names[-1]!r}"

    def check(value: Any) -> str:
        if not isinstance(value, str) or value not in names:
            raise PydanticCustomError(
                "literal_error", "Input should be {expected}", {"expected": expected}
            )
        return value

    return PlainValidator(check)


def _enum_schema(names: tuple[str, ...]) -> WithJsonSchema:
    return WithJsonSchema({"enum": list(names), "type": "string"})


HookName = Annotated[
    str,
    _one_of(HOOK_NAMES),
    WithJsonSchema({"type": "string", "description": "a hook of rules/hooks.py"}),
]
"""A hook some service answers (rule sets list them per rule). The editors' JSON schema of a
rule set leaves the names out, so adding a hook does not change that file; the loader checks
them."""
ServiceId = Annotated[str, _one_of(tuple(SPEC_BY_SERVICE)), _enum_schema(tuple(SPEC_BY_SERVICE))]
"""The id of a service this deployment offers."""
