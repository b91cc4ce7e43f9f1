"""Safety rules 12-17 (Internationale normen; Handleiding Eemland; product information), even
in palliative care/cancer.

On hooks with draft orders they judge the drafted opioid orders; on a hook without them (the
patient view, rules 12-14) they judge the active medication from the history.
"""

from __future__ import annotations

from datetime import date, timedelta

from pydantic import Field

from cds_hooks.models import Suggestion
from rules.cards.suggestions import SuggestionFactory
from rules.checks._common import format_date, on_oat
from rules.facts import OpioidExposure, OrderFacts, PatientFacts
from rules.registry import Finding, RuleContext, RuleParameters, rule


def _active_opioids(patient: PatientFacts, *, include_oat: bool) -> list[OpioidExposure]:
    return [e for e in patient.history if e.is_active and (include_oat or not e.is_oat)]


def _order_prescriber(order: OrderFacts) -> str | None:
    return order.requester_agb or order.requester_ref


class MultiplePrescribersParameters(RuleParameters):
    min_prescribers: int = Field(default=3, ge=2, le=10)
    min_pharmacies: int = Field(default=3, ge=2, le=10)


@rule(
    "multiple-prescribers",
    parameters=MultiplePrescribersParameters,
    placeholders={"prescribers", "pharmacies", "lookback_days"},
    text_variants={"no_pharmacy_summary", "no_pharmacy_detail"},
    reads={"medicationRequests", "medicationDispenses", "medicationStatements"},
)
def multiple_prescribers(ctx: RuleContext[MultiplePrescribersParameters]) -> Finding | None:
    """«shoppende patiënten» (Handleiding Eemland, Inleiding): many prescribers or pharmacies."""
    patient = ctx.facts.patient
    if ctx.hook.has_draft_orders and not ctx.orders:
        return None
    prescribers = set(patient.prescribers_in_lookback)
    pharmacies = set(patient.pharmacies_in_lookback)
    for order in ctx.orders:
        if (prescriber := _order_prescriber(order)) is not None:
            prescribers.add(prescriber)
        if order.pharmacy_id:
            pharmacies.add(order.pharmacy_id)
    if (
        len(prescribers) < ctx.params.min_prescribers
        and len(pharmacies) < ctx.params.min_pharmacies
    ):
        return None
    return Finding(
        order_ids=[order.order_id for order in ctx.orders],
        # Counts only: prescriber and pharmacy identities stay out of the card.
        facts={
            "prescriber_count": len(prescribers),
            "pharmacy_count": len(pharmacies),
            "lookback_days": ctx.defaults.lookback_days,
        },
        values={
            "prescribers": ctx.text("prescribers", count=len(prescribers)),
            "pharmacies": ctx.text("pharmacies", count=len(pharmacies)),
            "lookback_days": ctx.defaults.lookback_days,
        },
        # No pharmacy known is no claim that "an unknown pharmacy" dispensed.
        variant=None if pharmacies else "no_pharmacy",
    )


class SedativeParameters(RuleParameters):
    alcohol_sets: list[str] = Field(default_factory=lambda: ["alcohol_use_disorder"])
    opioid_use_disorder_sets: list[str] = Field(default_factory=lambda: ["opioid_use_disorder"])


@rule(
    "opioid-sedative-combination",
    parameters=SedativeParameters,
    placeholders={"sedatives"},
    text_variants={"alcohol", "reverse_summary", "opioid_use_disorder"},
    reads={"medicationRequests", "medicationDispenses", "medicationStatements", "conditions"},
)
def opioid_sedative_combination(ctx: RuleContext[SedativeParameters]) -> Finding | None:
    """Opioid + benzodiazepine/Z-drug/gabapentinoid or alcohol (Internationale normen §4.2.4-5)."""
    facts = ctx.facts
    patient = facts.patient
    alcohol = bool(patient.condition_sets & frozenset(ctx.params.alcohol_sets))
    oud = bool(patient.condition_sets & frozenset(ctx.params.opioid_use_disorder_sets))
    sedatives = list(patient.active_sedatives)
    order_ids: list[str]
    reverse = False
    if not ctx.hook.has_draft_orders:
        sedatives = [s for s in sedatives if not s.is_draft]
        if not _active_opioids(patient, include_oat=True) or not (sedatives or alcohol):
            return None
        order_ids = []
    elif ctx.orders:
        if not sedatives and not alcohol:
            return None
        order_ids = [order.order_id for order in ctx.orders]
    else:
        # The reverse: a drafted sedative while an opioid is active or also drafted. Unselected
        # opioid drafts are part of the situation; the card names only the selected sedatives.
        drafted = [
            order
            for order in facts.sedative_orders
            if order.selected or not ctx.hook.judges_selected_orders_only
        ]
        if not drafted or not (_active_opioids(patient, include_oat=True) or facts.opioid_orders):
            return None
        order_ids = [order.order_id for order in drafted]
        reverse = True
    names = sorted({s.display or s.sedative_class or s.ref for s in sedatives})
    return Finding(
        order_ids=order_ids,
        facts={
            "sedative_classes": sorted({s.sedative_class for s in sedatives if s.sedative_class}),
            "sedative_refs": [s.ref for s in sedatives],
            "alcohol_use_disorder": alcohol,
            "opioid_use_disorder": oud,
            "drafted_sedative": reverse,
        },
        values={"sedatives": ", ".join(names) or ("alcohol" if alcohol else "-")},
        indicator="critical" if oud else None,
        variant="reverse" if reverse else None,
        # The critical card says why it is critical.
        extra_texts=[
            text for text, on in (("opioid_use_disorder", oud), ("alcohol", alcohol)) if on
        ],
    )


class OpioidUseDisorderParameters(RuleParameters):
    opioid_use_disorder_sets: list[str] = Field(default_factory=lambda: ["opioid_use_disorder"])


@rule(
    "opioid-use-disorder",
    parameters=OpioidUseDisorderParameters,
    text_variants={
        "naloxone_label",
        "naloxone_description",
        "naloxone_instruction",
    },
    reads={"conditions", "medicationRequests", "medicationDispenses", "medicationStatements"},
)
def opioid_use_disorder(ctx: RuleContext[OpioidUseDisorderParameters]) -> Finding | None:
    """OUD: overdose risk, naloxone take-home, addiction care (Internationale normen §4.2.3-4)."""
    patient = ctx.facts.patient
    if not patient.condition_sets & frozenset(ctx.params.opioid_use_disorder_sets):
        return None
    if not ctx.hook.has_draft_orders:
        if not _active_opioids(patient, include_oat=False):
            return None
    elif not ctx.orders:
        return None
    referral_ids = list(ctx.referrals)
    in_addiction_care = on_oat(ctx)

    def suggestions(factory: SuggestionFactory) -> list[Suggestion]:
        naloxone = factory.naloxone_order(
            label=factory.rule_text("naloxone_label"),
            description=factory.rule_text("naloxone_description"),
            instruction=factory.rule_text("naloxone_instruction"),
        )
        referrals = factory.referrals(referral_ids, on_oat=in_addiction_care)
        return [naloxone, *referrals] if naloxone is not None else referrals

    return Finding(
        order_ids=[order.order_id for order in ctx.orders],
        facts={
            "opioid_use_disorder": True,
            "active_opioids": [e.ref for e in _active_opioids(patient, include_oat=False)],
        },
        suggestions=suggestions,
        selection_behavior="any",
    )


class HighDoseParameters(RuleParameters):
    threshold_ome_mg_per_day: float = Field(default=90, gt=0, le=1000)
    """NHG-Standaard Pijn: above 90 mg OME a day, consult / reconsider."""


def _ome_items(ctx: RuleContext[HighDoseParameters]) -> tuple[list[str], list[str]]:
    """What the total counted, each with its OME, and what it left out, each named as a GP
    knows it: a draft by product, schedule and which order; an active one from the history by
    product and until when it runs."""
    patient = ctx.facts.patient
    drafts = [order for order in ctx.facts.orders if order.is_opioid]
    orders = {order.order_id: order for order in drafts}
    exposures = {exposure.ref: exposure for exposure in patient.history}
    counted: list[str] = []
    left_out: list[str] = []
    for contribution in patient.ome_contributions:
        product = contribution.product_display or contribution.ref
        order = orders.get(contribution.ref)
        exposure = exposures.get(contribution.ref)
        if order is not None:
            schedule = (
                ctx.text("as_needed")
                if order.as_needed
                else ctx.text("times_a_day", count=order.doses_per_day)
                if order.doses_per_day is not None
                else None
            )
            which = (
                ctx.text("this_order")
                if len(drafts) == 1
                else ctx.text("nth_order", n=drafts.index(order) + 1)
            )
            label = ctx.text(
                "draft_label", product=", ".join(filter(None, (product, schedule))), which=which
            )
        elif exposure is not None:
            until = (
                ctx.text("running")
                if exposure.indefinite or exposure.end is None
                else ctx.text("running_until", date=format_date(exposure.end, ctx.text))
            )
            label = ctx.text("history_label", product=product, until=until)
        else:
            label = product
        if contribution.ome_mg_per_day is None:
            left_out.append(label)
        else:
            ome = f"{contribution.ome_mg_per_day:.0f}"
            counted.append("- " + ctx.text("counted_item", label=label, ome=ome))
    return counted, left_out


@rule(
    "high-daily-dose",
    parameters=HighDoseParameters,
    placeholders={
        "ome",
        "threshold",
        "unconverted",
        "counted",
        "label",
        "product",
        "which",
        "n",
        "until",
        "date",
    },
    text_variants={
        "unconverted",
        "counted",
        "counted_item",
        "at_least_summary",
        "at_least_detail",
        "draft_label",
        "history_label",
        "this_order",
        "nth_order",
        "running",
        "running_until",
    },
    reads={
        "medicationRequests",
        "medicationDispenses",
        "medicationStatements",
    },  # the opioids in use
)
def high_daily_dose(ctx: RuleContext[HighDoseParameters]) -> Finding | None:
    """Total OME of drafted and active opioids at or above the threshold. The card lists what
    it counted; with an opioid left out the total is a lower bound ("minstens")."""
    if not ctx.orders:
        return None
    patient = ctx.facts.patient
    total = patient.total_ome_mg_per_day
    threshold = ctx.params.threshold_ome_mg_per_day
    if total < threshold:
        return None
    unconverted = list(patient.ome_unconverted)
    counted, left_out = _ome_items(ctx)
    return Finding(
        order_ids=[order.order_id for order in ctx.orders],
        facts={
            "ome_mg_per_day": round(total, 1),
            "threshold_ome_mg_per_day": threshold,
            "contributions": [
                {
                    "ref": c.ref,
                    "ome_mg_per_day": c.ome_mg_per_day,
                    "not_computable_reason": c.not_computable_reason,
                    "is_draft": c.is_draft,
                }
                for c in patient.ome_contributions
            ],
            "unconverted": unconverted,
        },
        values={
            "ome": f"{total:.0f}",
            "threshold": f"{threshold:g}",
            "counted": "\n".join(counted),
            "unconverted": "; ".join(left_out or unconverted),
        },
        variant="at_least" if unconverted else None,
        extra_texts=["counted", *(["unconverted"] if unconverted else [])],
    )


@rule("pregnancy", reads={"conditions", "observations"})
def pregnancy(ctx: RuleContext[RuleParameters]) -> Finding | None:
    """Pregnant patient: neonatal abstinence risk; coordinate care (Internationale normen §5.1)."""
    if not ctx.orders or not ctx.facts.patient.pregnant:
        return None
    return Finding(
        order_ids=[order.order_id for order in ctx.orders],
        facts={"pregnant": True, "oat": [o.order_id for o in ctx.orders if o.is_oat]},
    )


class FentanylPatchParameters(RuleParameters):
    naive_window_days: int = Field(default=30, ge=1, le=365)
    """No opioid use (OAT included) in this many days, today included: opioid-naive."""


_FENTANYL = "fentanyl"


def _is_fentanyl_patch(order: OrderFacts) -> bool:
    """Transdermal fentanyl; sublingual, buccal and nasal fentanyl are not patches."""
    return any(substance.key == _FENTANYL for substance in order.substances) and (
        order.is_patch or order.route == "transdermal"
    )


def _used_between(exposure: OpioidExposure, first: date, last: date) -> bool:
    """The exposure is in use today, or covers a day in [first, last]."""
    if exposure.is_active:
        return True
    start = exposure.start or exposure.prescribed_on
    if start is None:
        return False
    return start <= last and (exposure.end or start) >= first


@rule(
    "fentanyl-patch-opioid-naive",
    parameters=FentanylPatchParameters,
    placeholders={"naive_window_days"},
    needs={"medicationRequests", "medicationDispenses", "medicationStatements"},
)
def fentanyl_patch_opioid_naive(ctx: RuleContext[FentanylPatchParameters]) -> Finding | None:
    """A fentanyl patch for an opioid-naive patient: contra-indicated by the product information
    (respiratory depression). Any opioid use in the window counts, OAT included; the other
    drafts of this call do not (they start together with the patch)."""
    patches = [order for order in ctx.orders if _is_fentanyl_patch(order)]
    if not patches:
        return None
    window = ctx.params.naive_window_days
    first = ctx.today - timedelta(days=window - 1)
    used = [e for e in ctx.facts.patient.history if _used_between(e, first, ctx.today)]
    if used:
        return None
    return Finding(
        order_ids=[order.order_id for order in patches],
        facts={
            "naive_window_days": window,
            "opioid_use_in_window": False,
            "orders": [
                {
                    "order_id": order.order_id,
                    "route": order.route,
                    "is_patch": order.is_patch,
                    "ome_mg_per_day": order.ome_mg_per_day,
                }
                for order in patches
            ],
        },
        values={"naive_window_days": window},
    )
