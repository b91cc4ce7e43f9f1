"""Rule tests: the Eemland rule set, an evaluator over it, and small typed facts to judge.

The facts factories build `rules.facts` objects directly, so a rule can be tested on exactly the
situation it is about; the fixture tests (`test_fixtures_*.py`) go through FHIR JSON instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest

from cds_hooks.draft_orders import DraftOrders
from cds_hooks.models import Card
from fhir_fixtures.builders import (
    PERIOD_OF_USE,
    concept,
    dispense_request,
    dosage,
    med_request,
    qty,
)
from rules.cards.render import EXPLANATION_KEY
from rules.catalogue import Catalogue, load_catalogue
from rules.engine import Evaluation, EvaluationInput, Evaluator
from rules.facts import (
    DurationSource,
    ExposureSource,
    Facts,
    MedicationFacts,
    OpioidExposure,
    OpioidStrength,
    OrderFacts,
    PatientFacts,
    PrescriberRole,
    RecognisedBy,
    ReleaseType,
    RoleSource,
    SubstanceRef,
)
from rules.facts.exposure import covered_days, exposure_intervals
from rules.language import Language
from rules.rulesets import RuleSet, load_ruleset

TODAY = date(2026, 11, 1)
LOOKBACK_DAYS = 90  # the built-in rule set's look-back
OXYCODONE = SubstanceRef(key="oxycodone", name_nl="oxycodon", name_en="oxycodone", atc="N02AA05")


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue()


@pytest.fixture(scope="session")
def ruleset() -> RuleSet:
    return load_ruleset()


@pytest.fixture(scope="session")
def evaluator(ruleset: RuleSet, catalogue: Catalogue) -> Evaluator:
    return Evaluator(ruleset, catalogue)


def oxycodone_mga(**changes: Any) -> MedicationFacts:
    medication = MedicationFacts(
        recognised_by=RecognisedBy.GSTANDAARD,
        coded=True,
        codes=(("urn:oid:2.16.840.1.113883.2.4.4.10", "57614"),),
        product_display="OXYCODON TABLET MGA 10MG",
        substances=(OXYCODONE,),
        is_opioid=True,
        is_oat_product=False,
        is_antitussive_codeine=False,
        strength=OpioidStrength.STRONG,
        release_type=ReleaseType.LONG_ACTING,
        release_type_basis="gstandaard PRK 57614",
        is_patch=False,
        dose_form="TABLET MGA",
        strength_per_unit=None,
        route_hint="oral",
        sedative_class=None,
        is_naloxone=False,
    )
    return replace(medication, **changes)


def order(order_id: str = "MedicationRequest/draft-1", **changes: Any) -> OrderFacts:
    """The common path: oxycodon MGA 10 mg 2x daily, 5 days, by a GP, indication stated."""
    facts = OrderFacts(
        order_id=order_id,
        selected=True,
        status="draft",
        intent="order",
        authored_on=TODAY,
        medication=oxycodone_mga(),
        medication_resolved=True,
        is_oat=False,
        route="oral",
        doses_per_day=2,
        dose=None,
        units_per_day=2,
        as_needed=False,
        continuous=False,
        ome_mg_per_day=30,
        ome_not_computable_reason=None,
        duration_days=5,
        duration_indefinite=False,
        duration_source=DurationSource.PERIOD_OF_USE,
        duration_by_source={DurationSource.PERIOD_OF_USE: 5},
        repeats_allowed=0,
        total_covered_days=5,
        start=TODAY,
        course_of_therapy=None,
        prior_prescription_ref=None,
        based_on_refs=(),
        indication_codes=(("http://hl7.org/fhir/sid/icpc-1-nl", "U95"),),
        indication_sets=frozenset(),
        has_indication=True,
        prescriber_role=PrescriberRole.GP,
        prescriber_role_source=RoleSource.REQUESTER,
        requester_ref="PractitionerRole/role-gp-devries",
        requester_agb="01999101",
        organisation_ref="Organization/praktijk-eemhof",
        organisation_agb="01999010",
        next_practitioner=None,
        pharmacy_id=None,
    )
    return replace(facts, **changes)


def exposure(
    ref: str = "MedicationRequest/old",
    *,
    start_offset: int = -180,
    days: int = 5,
    **changes: Any,
) -> OpioidExposure:
    start = TODAY + timedelta(days=start_offset)
    value = OpioidExposure(
        source=ExposureSource.MEDICATION_REQUEST,
        ref=ref,
        substances=("oxycodone",),
        product_display="OXYCODON TABLET MGA 10MG",
        prescribed_on=start,
        start=start,
        end=start + timedelta(days=days - 1),
        indefinite=False,
        prescriber_id="01999101",
        prescriber_role=PrescriberRole.GP,
        pharmacy_id=None,
        is_oat=False,
        is_active=False,
        release_type=ReleaseType.LONG_ACTING,
        ome_mg_per_day=30,
        ome_not_computable_reason=None,
        next_practitioner=None,
        has_handover=False,
    )
    return value._replace(**changes)


def patient(**changes: Any) -> PatientFacts:
    """A patient with one short course half a year ago and a physical consult today."""
    old = exposure()
    value = PatientFacts(
        patient_id="pat-0001",
        birth_date=date(1968, 4, 12),
        age=58,
        postcode="3811",
        pregnant=False,
        condition_sets=frozenset(),
        history=(old,),
        prior_opioid_intervals=(),
        prior_opioid_days=0,
        opioid_days_new_user_window=5,
        last_prior_prescription=None,
        latest_supply_end=({("oxycodone", ReleaseType.LONG_ACTING): old.end} if old.end else {}),
        prescribers_in_lookback=frozenset(),
        pharmacies_in_lookback=frozenset(),
        physical_consult_dates=(TODAY,),
        last_physical_consult=TODAY,
        current_encounter_physical=True,
        active_sedatives=(),
        surgical_procedures=(),
        total_ome_mg_per_day=30,
        ome_contributions=(),
        ome_unconverted=(),
    )
    value = replace(value, **changes)
    if "history" in changes and "prior_opioid_intervals" not in changes:
        # What the facts builder derives from a history (its own function, not a copy).
        pain = [exposure for exposure in value.history if not exposure.is_oat]
        intervals = exposure_intervals(pain, TODAY - timedelta(days=LOOKBACK_DAYS - 1), TODAY)
        value = replace(
            value, prior_opioid_intervals=intervals, prior_opioid_days=covered_days(intervals)
        )
    return value


def draft(order_id: str = "draft-1", **fields: Any) -> dict[str, Any]:
    """A drafted MedicationRequest of the common path, for the suggestions built from it."""
    period = {"start": TODAY.isoformat(), "end": "2026-11-14"}
    return med_request(
        order_id,
        concept(text="OXYCODON TABLET MGA 10MG"),
        status="draft",
        patient="pat-0001",
        authored=None,
        dosages=[dosage(frequency=2)],
        **{
            "extension": [{"url": PERIOD_OF_USE, "valuePeriod": period}],
            "dispenseRequest": dispense_request(quantity=qty(28, unit="stuk")),
            **fields,
        },
    )


def facts(
    hook: str = "order-sign",
    orders: Sequence[OrderFacts] | None = None,
    patient_facts: PatientFacts | None = None,
) -> Facts:
    return Facts(
        hook=hook,
        today=TODAY,
        orders=list(orders if orders is not None else [order()]),
        patient=patient_facts if patient_facts is not None else patient(),
        user_ref="PractitionerRole/role-gp-devries",
        user_role=PrescriberRole.GP,
        encounter_ref="Encounter/enc-today",
    )


def run(
    evaluator: Evaluator,
    the_facts: Facts,
    *,
    language: Language = "nl",
    missing: frozenset[str] = frozenset(),
    drafts: Sequence[dict[str, Any]] = (),
) -> Evaluation:
    evaluation_input = EvaluationInput(
        hook=the_facts.hook,
        context={},
        draft_orders=DraftOrders.from_resources(drafts),
        resources=[],
        missing_data=missing,
        language=language,
        today=TODAY,
    )
    return evaluator.evaluate_facts(the_facts, evaluation_input)


def card_for(evaluation: Evaluation, rule_id: str) -> Card:
    for card in evaluation.cards:
        if card.source.topic is not None and card.source.topic.code == rule_id:
            return card
    raise AssertionError(f"no card for {rule_id}; fired: {evaluation.fired_rule_ids}")


def explanation(card: Card) -> dict[str, Any]:
    assert card.extension is not None
    value: dict[str, Any] = card.extension[EXPLANATION_KEY]
    return value
