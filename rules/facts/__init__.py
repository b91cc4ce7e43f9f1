"""Typed facts about one CDS Hooks call: the public interface between FHIR data and the rules.

The rules read these objects and never look at FHIR JSON themselves.

Entry point::

    from rules.facts import FactSettings, build_facts
    from rules.catalogue import load_catalogue

    facts = build_facts(
        hook=request.hook, context=request.context,
        draft_orders=DraftOrders.of(context),  # cds_hooks.draft_orders
        resources=prefetched, today=date.today(), catalogue=load_catalogue(),
        settings=FactSettings(lookback_days=90),
    )
    for order in facts.opioid_orders: ...

Conventions:
- Dates are calendar dates (``datetime.date``); intervals are inclusive on both ends.
- Resource references are ``"<ResourceType>/<id>"``; a contained resource keeps its ``#id``.
- ``None`` means "not stated / could not be determined", never "zero".
- Building facts never raises on any JSON input; what could not be read is listed in
  ``Facts.problems`` and the affected fact is ``None`` / ``unknown``.
"""

# First: importing the catalogue refuses compiled modules older than their source (rules.native).
from rules.catalogue import Quantity, ReleaseType
from rules.facts.builder import build_facts
from rules.facts.durations import add_days
from rules.facts.exposure import Interval, covered_days
from rules.facts.fhir_access import MAX_NESTING, nested_deeper_than, parse_date
from rules.facts.model import (
    ActiveMedication,
    DurationSource,
    ExposureSource,
    Facts,
    FactSettings,
    MedicationFacts,
    NextPractitioner,
    OmeContribution,
    OpioidExposure,
    OpioidStrength,
    OrderFacts,
    PatientFacts,
    PrescriberRole,
    Problem,
    ProblemReason,
    RecognisedBy,
    RoleSource,
    SubstanceRef,
    SurgicalProcedure,
)

__all__ = [
    "MAX_NESTING",
    "ActiveMedication",
    "DurationSource",
    "ExposureSource",
    "FactSettings",
    "Facts",
    "Interval",
    "MedicationFacts",
    "NextPractitioner",
    "OmeContribution",
    "OpioidExposure",
    "OpioidStrength",
    "OrderFacts",
    "PatientFacts",
    "PrescriberRole",
    "Problem",
    "ProblemReason",
    "Quantity",
    "RecognisedBy",
    "ReleaseType",
    "RoleSource",
    "SubstanceRef",
    "SurgicalProcedure",
    "add_days",
    "build_facts",
    "covered_days",
    "nested_deeper_than",
    "parse_date",
]
