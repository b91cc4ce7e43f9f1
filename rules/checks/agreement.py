"""The prescribing agreements of regio Eemland, rules 1-8 (Handleiding Eemland, fase 1-2).

Each check judges `ctx.orders`: the drafted opioid orders of this call after the engine applied
the rule's exclusions (OAT, palliative care / cancer).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from cds_hooks.models import Suggestion
from rules.cards.suggestions import SuggestionFactory
from rules.checks._common import consult_after, duration_text, format_date
from rules.facts import DurationSource, OpioidStrength, OrderFacts, PrescriberRole, ReleaseType
from rules.registry import Finding, RuleContext, RuleParameters, rule

_NON_ORAL_ROUTES = frozenset({"transdermal", "parenteral", "rectal", "nasal", "sublingual"})


class ShortActingParameters(RuleParameters):
    bony_pain_sets: list[str] = Field(default_factory=lambda: ["bony_musculoskeletal_pain"])
    bony_pain_excluded_sets: list[str] = Field(default_factory=lambda: ["fracture"])
    """The condition sets of rule 6 (`bony-musculoskeletal-pain`: `indication_sets`,
    `excluded_sets`): where rule 6 fires on a strong opioid, rule 1 proposes no opioid."""


def _bony_pain(order: OrderFacts, wanted: frozenset[str], excluded: frozenset[str]) -> bool:
    """Rule 6's reading: a strong opioid for bony musculoskeletal pain, fractures aside."""
    return (
        order.strength is OpioidStrength.STRONG
        and bool(order.indication_sets & wanted)
        and not order.indication_sets & excluded
    )


def _long_acting_running(ctx: RuleContext[Any], order: OrderFacts) -> bool:
    """A long-acting form of the order's substance is supplied today or drafted beside it: the
    short-acting order is breakthrough medication, and proposing that form again is no help."""
    keys = {substance.key for substance in order.substances}
    supply_ends = ctx.facts.patient.latest_supply_end
    if any(
        (end := supply_ends.get((key, ReleaseType.LONG_ACTING))) is not None and end >= ctx.today
        for key in keys
    ):
        return True
    return any(
        other.order_id != order.order_id
        and other.release_type is ReleaseType.LONG_ACTING
        and keys & {substance.key for substance in other.substances}
        for other in ctx.facts.opioid_orders
    )


@rule(
    "short-acting-opioid",
    parameters=ShortActingParameters,
    placeholders={"alternatives", "without_long_acting_form"},
    text_variants={"alternative", "no_long_acting_form", "bony_pain", "breakthrough"},
)
def short_acting_opioid(ctx: RuleContext[ShortActingParameters]) -> Finding | None:
    """Fase 1 stap 3: «ALLEEN langwerkend … Er is GEEN indicatie voor kortwerkend».

    The advice names the long-acting form of the same substance where the catalogue knows one
    (`long_acting_forms.csv`), so a weak opioid is never answered with a stronger one; it names
    no opioid where there is none (codeine) or where rule 6 fires on the order (bony pain).
    A pump (a continuous rate, subcutaneous or intravenous) is no short-acting opioid in the
    agreement's sense: it runs around the clock, usually because oral intake is no longer
    possible, so it is left alone.
    """
    concerned = [
        order
        for order in ctx.orders
        if order.release_type is ReleaseType.SHORT_ACTING and not order.continuous
    ]
    if not concerned:
        return None
    wanted = frozenset(ctx.params.bony_pain_sets)
    excluded = frozenset(ctx.params.bony_pain_excluded_sets)
    english = ctx.language == "en"
    alternatives: dict[str, None] = {}
    without_form: dict[str, None] = {}
    advice: dict[str, tuple[str, str | None]] = {}
    for order in concerned:
        if _bony_pain(order, wanted, excluded):
            advice[order.order_id] = ("bony_pain", None)
            continue
        if _long_acting_running(ctx, order):
            advice[order.order_id] = ("breakthrough", None)
            continue
        forms = [
            substance.long_acting_form_en if english else substance.long_acting_form_nl
            for substance in order.substances
        ]
        if order.substances and all(forms):
            form = " / ".join(f for f in forms if f)
            alternatives[form] = None
            advice[order.order_id] = ("long_acting_form", form)
        else:
            for substance in order.substances:
                without_form[substance.name_en if english else substance.name_nl] = None
            advice[order.order_id] = ("no_long_acting_form", None)
    kinds = {kind for kind, _ in advice.values()}
    extra_texts = [
        text
        for kind, text in (
            ("long_acting_form", "alternative"),
            ("no_long_acting_form", "no_long_acting_form"),
            ("bony_pain", "bony_pain"),
            ("breakthrough", "breakthrough"),
        )
        if kind in kinds
    ]
    return Finding(
        order_ids=[order.order_id for order in concerned],
        facts={
            "orders": [
                {
                    "order_id": order.order_id,
                    "release_type": order.release_type,
                    "release_type_basis": order.medication.release_type_basis,
                    "coded": order.coded,
                    "strength": order.strength,
                    "advice": advice[order.order_id][0],
                    "long_acting_form": advice[order.order_id][1],
                }
                for order in concerned
            ]
        },
        values={
            "alternatives": "; ".join(alternatives),
            "without_long_acting_form": ", ".join(without_form) or "-",
        },
        extra_texts=extra_texts,
    )


class DosingFrequencyParameters(RuleParameters):
    min_doses_per_day: int = Field(default=2, ge=1, le=6)
    max_doses_per_day: int = Field(default=3, ge=1, le=6)


_ONCE_DAILY = 1
"""A product made for once-daily dosing (a 24-hour form) is dosed once a day."""


@rule(
    "dosing-frequency",
    parameters=DosingFrequencyParameters,
    placeholders={"min_doses_per_day", "max_doses_per_day", "schedule"},
    text_variants={
        "as_needed_summary",
        "frequency_summary",
        "once_daily_summary",
        "once_daily_detail",
    },
)
def dosing_frequency(ctx: RuleContext[DosingFrequencyParameters]) -> Finding | None:
    """Fase 1 stap 3: «ALLEEN langwerkend opioïden 2-3 maal daags». Patches are out of scope.
    A product made for once-daily dosing is judged against once a day: twice doubles the dose."""
    params = ctx.params
    as_needed = []
    off_schedule = []
    once_daily = []
    for order in ctx.orders:
        if order.release_type is not ReleaseType.LONG_ACTING or order.is_patch:
            continue
        if order.route in _NON_ORAL_ROUTES:
            continue
        if order.as_needed:
            as_needed.append(order)
        elif order.doses_per_day is None:
            continue
        elif order.once_daily:
            if order.doses_per_day != _ONCE_DAILY:
                once_daily.append(order)
        elif not params.min_doses_per_day <= order.doses_per_day <= params.max_doses_per_day:
            off_schedule.append(order)
    concerned = as_needed + once_daily + off_schedule
    if not concerned:
        return None
    schedule = ", ".join(
        ctx.text("as_needed")
        if order.as_needed
        else ctx.text("times_a_day", count=order.doses_per_day)
        for order in concerned
    )
    variant = "as_needed" if as_needed else "once_daily" if once_daily else "frequency"
    return Finding(
        order_ids=[order.order_id for order in concerned],
        facts={
            "orders": [
                {
                    "order_id": order.order_id,
                    "release_type": order.release_type,
                    "once_daily_product": order.once_daily,
                    "doses_per_day": order.doses_per_day,
                    "as_needed": order.as_needed,
                }
                for order in concerned
            ]
        },
        values={
            "min_doses_per_day": f"{params.min_doses_per_day:g}",
            "max_doses_per_day": f"{params.max_doses_per_day:g}",
            "schedule": schedule,
        },
        indicator="warning" if as_needed else "info",
        variant=variant,
    )


class DurationLimitParameters(RuleParameters):
    max_days: int = Field(default=7, ge=5, le=7)
    """Region: «maximaal 1 week»; a practice may set 5-7 days (both fase 1 stap 3)."""


@rule(
    "gp-duration-limit",
    parameters=DurationLimitParameters,
    placeholders={"max_days", "durations", "quantity_days"},
    text_variants={
        "suggestion_label",
        "suggestion_description",
        "suggestion_description_quantity_kept",
        "duration_by_quantity",
    },
    reads={"practitionerRoles"},  # the user's role, and the practice whose overlay applies
)
def gp_duration_limit(ctx: RuleContext[DurationLimitParameters]) -> Finding | None:
    """Handleiding Eemland, fase 1 stap 3: «Huisarts schrijft voor maximaal 1 week voor»."""
    max_days = ctx.params.max_days
    concerned = [
        order
        for order in ctx.orders
        if order.prescriber_role is PrescriberRole.GP
        and (
            order.duration_indefinite
            or (order.total_covered_days is not None and order.total_covered_days > max_days)
        )
    ]
    if not concerned:
        return None

    def duration(order: OrderFacts) -> str:
        if order.duration_indefinite or order.total_covered_days is None:
            return str(ctx.text("indefinite"))
        days = duration_text(order.total_covered_days, ctx.text)
        if order.duration_source is DurationSource.QUANTITY:
            # No duration on the order: the days are what its quantity lasts (a pump's
            # cassette, tablets at the dose), which the GP should not read as prescribed.
            return str(ctx.text("duration_by_quantity", quantity_days=days))
        return days

    durations = ", ".join(duration(order) for order in concerned)

    def suggestions(factory: SuggestionFactory) -> list[Suggestion]:
        built = [
            factory.limit_duration(
                order.order_id,
                max_days=max_days,
                start=order.start or ctx.today,
                label=factory.rule_text("suggestion_label", max_days=max_days),
                description=factory.rule_text("suggestion_description", max_days=max_days),
                description_quantity_kept=factory.rule_text(
                    "suggestion_description_quantity_kept", max_days=max_days
                ),
            )
            for order in concerned
        ]
        return [suggestion for suggestion in built if suggestion is not None]

    return Finding(
        order_ids=[order.order_id for order in concerned],
        facts={
            "max_days": max_days,
            "orders": [
                {
                    "order_id": order.order_id,
                    "duration_days": order.total_covered_days,
                    "duration_indefinite": order.duration_indefinite,
                    "duration_source": order.duration_source,
                    "repeats_allowed": order.repeats_allowed,
                    "prescriber_role": order.prescriber_role,
                    "prescriber_role_source": order.prescriber_role_source,
                }
                for order in concerned
            ],
        },
        values={"max_days": max_days, "durations": durations},
        suggestions=suggestions,
        selection_behavior="any",
    )


@rule(
    "follow-up-without-consult",
    placeholders={"last_prescription", "last_consult"},
    needs={"medicationRequests", "encounters"},
)
def follow_up_without_consult(ctx: RuleContext[RuleParameters]) -> Finding | None:
    """Fase 1 stap 3: «alleen na fysiek consult kan er vervolg recept komen»."""
    patient = ctx.facts.patient
    prior = patient.last_prior_prescription
    if not ctx.orders or prior is None or prior.is_oat:
        return None
    if consult_after(patient, prior.prescribed_on):
        return None
    return Finding(
        order_ids=[order.order_id for order in ctx.orders],
        facts={
            "last_prescription": prior.prescribed_on,
            "last_prescription_ref": prior.ref,
            "last_physical_consult": patient.last_physical_consult,
            "current_encounter_physical": patient.current_encounter_physical,
            "lookback_days": ctx.defaults.lookback_days,
        },
        values={
            "last_prescription": format_date(prior.prescribed_on, ctx.text),
            "last_consult": format_date(patient.last_physical_consult, ctx.text),
        },
    )


@rule(
    "repeat-prescription",
    placeholders={"repeats"},
    text_variants={"suggestion_label", "suggestion_description"},
)
def repeat_prescription(ctx: RuleContext[RuleParameters]) -> Finding | None:
    """Fase 1 stap 3: «fysiek consult nodig … voor een herhaalrecept (niet de herhaallijn)».

    The order itself allows repeats (on the request or its MP9 dispense request). Whether there
    was a physical consult is rule 4's (`follow-up-without-consult`) alone, so a renewal without
    a consult (from the repeat list or by phone) gets that card, not this one as well.
    """
    concerned = [order for order in ctx.orders if order.repeats_allowed > 0]
    if not concerned:
        return None

    def suggestions(factory: SuggestionFactory) -> list[Suggestion]:
        built = [
            factory.no_repeats(
                order.order_id,
                label=factory.rule_text("suggestion_label"),
                description=factory.rule_text("suggestion_description"),
            )
            for order in concerned
        ]
        return [suggestion for suggestion in built if suggestion is not None]

    return Finding(
        order_ids=[order.order_id for order in concerned],
        facts={
            "orders": [
                {
                    "order_id": order.order_id,
                    "repeats_allowed": order.repeats_allowed,
                    "course_of_therapy": order.course_of_therapy,
                    "prior_prescription": order.prior_prescription_ref,
                }
                for order in concerned
            ],
        },
        values={"repeats": ", ".join(str(order.repeats_allowed) for order in concerned)},
        suggestions=suggestions,
        selection_behavior="any",
    )


class BonyPainParameters(RuleParameters):
    indication_sets: list[str] = Field(default_factory=lambda: ["bony_musculoskeletal_pain"])
    excluded_sets: list[str] = Field(default_factory=lambda: ["fracture"])
    """Fractures (ICPC L72-L76) are not «benige pijnklachten» by default (a clinical choice)."""


@rule(
    "bony-musculoskeletal-pain",
    parameters=BonyPainParameters,
    reads={"conditions", "encounters"},  # the order's reasons, today's diagnoses
)
def bony_musculoskeletal_pain(ctx: RuleContext[BonyPainParameters]) -> Finding | None:
    """Fase 1 stap 3: «Geen sterke opioïden bij benige pijnklachten bewegingsapparaat»."""
    wanted = frozenset(ctx.params.indication_sets)
    excluded = frozenset(ctx.params.excluded_sets)
    concerned = [
        order
        for order in ctx.orders
        if order.strength is OpioidStrength.STRONG
        and order.indication_sets & wanted
        and not order.indication_sets & excluded
    ]
    if not concerned:
        return None
    return Finding(
        order_ids=[order.order_id for order in concerned],
        facts={
            "orders": [
                {
                    "order_id": order.order_id,
                    "strength": order.strength,
                    "indication_sets": order.indication_sets,
                    "indication_codes": [f"{s}|{c}" for s, c in order.indication_codes],
                }
                for order in concerned
            ]
        },
    )


@rule(
    "missing-indication-or-duration",
    text_variants={
        "indication_summary",
        "duration_summary",
        "both_summary",
    },
)
def missing_indication_or_duration(ctx: RuleContext[RuleParameters]) -> Finding | None:
    """Fase 1 stap 3: «standaard vermelden indicatie en gebruiksduur op recept»."""
    no_indication = [order for order in ctx.orders if not order.has_indication]
    no_duration = [
        order
        for order in ctx.orders
        if order.duration_source is DurationSource.NONE and not order.duration_indefinite
    ]
    concerned_ids = list(dict.fromkeys(o.order_id for o in no_indication + no_duration))
    if not concerned_ids:
        return None
    if no_indication and no_duration:
        variant = "both"
    elif no_indication:
        variant = "indication"
    else:
        variant = "duration"
    facts: dict[str, Any] = {
        "without_indication": [order.order_id for order in no_indication],
        "without_duration": [order.order_id for order in no_duration],
    }
    return Finding(order_ids=concerned_ids, facts=facts, variant=variant)


@rule(
    "specialist-ownership",
    placeholders={"last_prescription"},
    text_variants={"postoperative", "suggestion_label", "suggestion_description"},
    needs={"medicationRequests"},
    reads={"medicationDispenses"},  # the last prescription, when no request tells it
)
def specialist_ownership(ctx: RuleContext[RuleParameters]) -> Finding | None:
    """Fase 2: «Zonder overdracht van een medisch specialist … terugverwezen»."""
    prior = ctx.facts.patient.last_prior_prescription
    gp_orders = [order for order in ctx.orders if order.prescriber_role is PrescriberRole.GP]
    if not gp_orders or prior is None or prior.is_oat:
        return None
    if prior.prescriber_role is not PrescriberRole.SPECIALIST or prior.has_handover:
        return None
    # A handover recorded on the GP's own draft (NextPractitioner naming a GP) also counts.
    if any(
        order.next_practitioner is not None and order.next_practitioner.role is PrescriberRole.GP
        for order in gp_orders
    ):
        return None
    surgery = [
        procedure
        for procedure in ctx.facts.patient.surgical_procedures
        if procedure.performed_on is not None
        and prior.prescribed_on is not None
        and procedure.performed_on <= prior.prescribed_on
    ]
    performer = prior.prescriber_id if prior.prescriber_id and "/" in prior.prescriber_id else None

    def suggestions(factory: SuggestionFactory) -> list[Suggestion]:
        back = factory.refer_back(
            label=factory.rule_text("suggestion_label"),
            description=factory.rule_text("suggestion_description"),
            performer=performer,
        )
        return [back] if back is not None else []

    return Finding(
        order_ids=[order.order_id for order in gp_orders],
        facts={
            "last_prescription": prior.prescribed_on,
            "last_prescription_ref": prior.ref,
            "last_prescriber_role": prior.prescriber_role,
            "handover": False,
            "postoperative": bool(surgery),
            "surgery_date": surgery[-1].performed_on if surgery else None,
        },
        values={"last_prescription": format_date(prior.prescribed_on, ctx.text)},
        extra_texts=["postoperative"] if surgery else [],
        suggestions=suggestions,
    )
