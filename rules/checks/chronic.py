"""Use over time, rules 9-11 and the review of a chronic user (Handleiding Eemland, fase 3).

Covered days are the union of date intervals, counted by the facts; OAT history does not count
as prior opioid exposure here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pydantic import Field

from cds_hooks.models import Suggestion
from rules.cards.suggestions import SuggestionFactory
from rules.checks._common import (
    DAYS_IN_A_YEAR,
    duration_text,
    format_date,
    on_oat,
    order_interval,
)
from rules.facts import OrderFacts, ReleaseType, covered_days
from rules.registry import Finding, RuleContext, RuleParameters, rule


class ChronicParameters(RuleParameters):
    threshold_days: int = Field(default=28, ge=1, le=365)
    """«meer dan 4 weken» (Handleiding Eemland, fase 3 stap 1)."""
    opioid_use_disorder_sets: list[str] = Field(default_factory=lambda: ["opioid_use_disorder"])
    """Condition sets that make the routes for an opioid use disorder the ones offered."""


@dataclass(frozen=True)
class _ReferralChoice:
    """The routes that fit this patient, and what chose them (for the explanation)."""

    routes: list[str]
    opioid_use_disorder: bool
    on_oat: bool

    def suggestions(self, factory: SuggestionFactory, limit: int) -> list[Suggestion]:
        return factory.referrals(self.routes, on_oat=self.on_oat, limit=limit)


def _referral_choice(ctx: RuleContext[ChronicParameters]) -> _ReferralChoice:
    patient = ctx.facts.patient
    disorder = bool(patient.condition_sets & frozenset(ctx.params.opioid_use_disorder_sets))
    routes = ctx.referrals_if_opioid_use_disorder if disorder else ()
    return _ReferralChoice(list(routes or ctx.referrals), disorder, on_oat(ctx))


def _order_days(order: OrderFacts, today: date, limit: int) -> tuple[date, date] | None:
    start = order.start or today
    if order.duration_indefinite:
        return order_interval(start, limit + 1)
    if order.total_covered_days is None:
        return None
    return order_interval(start, order.total_covered_days)


@rule(
    "chronic-use",
    parameters=ChronicParameters,
    placeholders={
        "threshold_days",
        "total_days",
        "prior_days",
        "order_days",
        "prior_duration",
        "order_duration",
        "total_duration",
        "duration",
    },
    text_variants={"indefinite_summary", "indefinite_detail"},
    reads={"medicationRequests", "medicationDispenses", "medicationStatements"},
)
def chronic_use(ctx: RuleContext[ChronicParameters]) -> Finding | None:
    """A patient who already used opioids in the look-back, and with this order more than 4
    weeks (fase 3 stap 1, 3). A new user's long order is rule 3's (`gp-duration-limit`)."""
    if not ctx.orders:
        return None
    threshold = ctx.params.threshold_days
    patient = ctx.facts.patient
    prior_days = patient.prior_opioid_days
    if prior_days <= 0:
        return None
    order_intervals = [
        interval
        for order in ctx.orders
        if (interval := _order_days(order, ctx.today, threshold)) is not None
    ]
    # Covered days are a union: a supply that overlaps this order counts once.
    total = covered_days(list(patient.prior_opioid_intervals) + order_intervals)
    if total <= threshold:
        return None
    choice = _referral_choice(ctx)
    order_days = covered_days(order_intervals)
    # An indefinite order counts as threshold + 1 days: the total is then a bound, not a count.
    indefinite = any(order.duration_indefinite for order in ctx.orders)
    # An order of unknown duration adds nothing to the count; its days are not "0".
    unknown = len(order_intervals) < len(ctx.orders) and not indefinite
    # An order beyond a year reads as one without an end: "dit recept voor meer dan een jaar",
    # not a total that repeats the order's words and a "(> 28 dagen)" it dwarfs.
    over_a_year = not indefinite and not unknown and order_days > DAYS_IN_A_YEAR

    def suggestions(factory: SuggestionFactory) -> list[Suggestion]:
        return choice.suggestions(factory, ctx.defaults.referral_suggestions)

    return Finding(
        order_ids=[order.order_id for order in ctx.orders],
        facts={
            "prior_opioid_days": prior_days,
            "order_days": None if indefinite or unknown else order_days,
            "total_opioid_days": None if indefinite else total,
            "opioid_use_disorder": choice.opioid_use_disorder,
            "on_oat": choice.on_oat,
            "threshold_days": threshold,
            "lookback_days": ctx.defaults.lookback_days,
            "orders": [
                {
                    "order_id": order.order_id,
                    "duration_days": order.total_covered_days,
                    "duration_indefinite": order.duration_indefinite,
                }
                for order in ctx.orders
            ],
        },
        values={
            "threshold_days": threshold,
            "total_days": total,
            "prior_days": prior_days,
            "order_days": order_days,
            "prior_duration": ctx.text("days", count=prior_days),
            "order_duration": (
                ctx.text("unknown_duration") if unknown else duration_text(order_days, ctx.text)
            ),
            "total_duration": duration_text(total, ctx.text),
            "duration": ctx.text("more_than_a_year" if over_a_year else "indefinite"),
        },
        variant="indefinite" if indefinite or over_a_year else None,
        suggestions=suggestions,
        selection_behavior="any",
    )


@rule(
    "new-user-education",
    placeholders={"new_user_days"},
    needs={"medicationRequests", "medicationDispenses", "medicationStatements"},
)
def new_user_education(ctx: RuleContext[RuleParameters]) -> Finding | None:
    """No opioid in the last 365 days: patient education (fase 1 stap 4; §4 «Gespreksvoering»)."""
    if not ctx.orders:
        return None
    patient = ctx.facts.patient
    if patient.opioid_days_new_user_window > 0:
        return None
    return Finding(
        order_ids=[order.order_id for order in ctx.orders],
        facts={
            "opioid_days_new_user_window": patient.opioid_days_new_user_window,
            "new_user_lookback_days": ctx.defaults.new_user_lookback_days,
        },
        values={"new_user_days": ctx.defaults.new_user_lookback_days},
    )


class EarlyRefillParameters(RuleParameters):
    early_refill_tolerance_days: int = Field(default=2, ge=0, le=30)


@rule(
    "early-refill",
    parameters=EarlyRefillParameters,
    placeholders={"supply_end", "days_left"},
    reads={"medicationRequests", "medicationDispenses", "medicationStatements"},
)
def early_refill(ctx: RuleContext[EarlyRefillParameters]) -> Finding | None:
    """A new order while the previous supply of the same substance and release type lasts
    (fase 1 stap 3; §3). A short-acting breakthrough dose next to a running long-acting supply
    is no refill (rule 1 judges it); no rule fires on an unknown release type."""
    supply_ends = ctx.facts.patient.latest_supply_end
    tolerance = ctx.params.early_refill_tolerance_days
    concerned: list[tuple[OrderFacts, str, date]] = []
    for order in ctx.orders:
        if order.release_type is ReleaseType.UNKNOWN:
            continue
        for substance in order.substances:
            end = supply_ends.get((substance.key, order.release_type))
            if end is not None and (end - ctx.today).days > tolerance:
                concerned.append((order, substance.key, end))
                break
    if not concerned:
        return None
    latest = max(end for _, _, end in concerned)
    return Finding(
        order_ids=[order.order_id for order, _, _ in concerned],
        facts={
            "tolerance_days": tolerance,
            "supplies": [
                {
                    "order_id": order.order_id,
                    "substance": key,
                    "release_type": order.release_type,
                    "supply_end": end,
                }
                for order, key, end in concerned
            ],
        },
        values={
            "supply_end": format_date(latest, ctx.text),
            "days_left": (latest - ctx.today).days,
        },
    )


@rule(
    "chronic-user-review",
    parameters=ChronicParameters,
    placeholders={"threshold_days", "prior_days"},
    text_variants={"email"},
    reads={"medicationRequests", "medicationDispenses", "medicationStatements"},
)
def chronic_user_review(ctx: RuleContext[ChronicParameters]) -> Finding | None:
    """On opening the chart: a chronic user to invite for a conversation (fase 3 stap 1-2)."""
    threshold = ctx.params.threshold_days
    prior_days = ctx.facts.patient.prior_opioid_days
    if prior_days <= threshold:
        return None
    choice = _referral_choice(ctx)

    def suggestions(factory: SuggestionFactory) -> list[Suggestion]:
        return choice.suggestions(factory, ctx.defaults.referral_suggestions)

    return Finding(
        order_ids=[],
        facts={
            "prior_opioid_days": prior_days,
            "opioid_use_disorder": choice.opioid_use_disorder,
            "on_oat": choice.on_oat,
            "threshold_days": threshold,
            "lookback_days": ctx.defaults.lookback_days,
            "last_prescription": (
                ctx.facts.patient.last_prior_prescription.prescribed_on
                if ctx.facts.patient.last_prior_prescription
                else None
            ),
        },
        values={"threshold_days": threshold, "prior_days": prior_days},
        extra_texts=["email"],
        suggestions=suggestions,
        selection_behavior="any",
    )
