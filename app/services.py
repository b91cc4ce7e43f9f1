"""The three CDS services this deployment offers, as listed by discovery."""

from __future__ import annotations

from typing import Final

from cds_hooks.models import CdsService, Discovery
from rules.data_needs import PREFETCH_TEMPLATES

__all__ = ["DISCOVERY", "SERVICES"]

_USAGE = (
    "Send the draft MedicationRequests in context.draftOrders (FHIR R4; Nictiz MP9 "
    "MedicationAgreement profiles welcome). Prefetch the listed keys, or pass fhirServer and "
    "fhirAuthorization so the service can fetch them. Authenticate with a signed JWT "
    "(ES384/RS384) as CDS Hooks 2.0 describes."
)

SERVICES: Final[dict[str, CdsService]] = {
    service.id: service
    for service in (
        CdsService(
            id="opioid-order-select",
            hook="order-select",
            title="Opioïden: regionale afspraken bij het kiezen van een opioïd",
            description=(
                "Checks the selected opioid orders against the regio Eemland opioid "
                "agreements: long-acting forms 2-3x daily, no strong opioids for bony "
                "musculoskeletal pain, indication and duration, sedatives, opioid use "
                "disorder, daily dose and pregnancy."
            ),
            prefetch=PREFETCH_TEMPLATES["order-select"],
            usage_requirements=_USAGE,
        ),
        CdsService(
            id="opioid-order-sign",
            hook="order-sign",
            title="Opioïden: regionale afspraken bij het ondertekenen",
            description=(
                "Checks every drafted opioid order against all regio Eemland opioid "
                "agreements, including the history checks: GP maximum of one week, follow-up "
                "only after a physical consult, no repeats, specialist ownership, chronic "
                "use, early refills and multiple prescribers."
            ),
            prefetch=PREFETCH_TEMPLATES["order-sign"],
            usage_requirements=_USAGE + " The medication history (medicationRequests) is required.",
        ),
        CdsService(
            id="opioid-patient-view",
            hook="patient-view",
            title="Opioïden: chronisch gebruik signaleren",
            description=(
                "Identifies chronic opioid users (more than 4 weeks in the look-back) and "
                "offers the regional conversation template and referral routes."
            ),
            prefetch=PREFETCH_TEMPLATES["patient-view"],
            usage_requirements="Prefetch the medication history (medicationRequests); "
            "authenticate with a signed JWT.",
        ),
    )
}

DISCOVERY: Final[Discovery] = Discovery(services=list(SERVICES.values()))
