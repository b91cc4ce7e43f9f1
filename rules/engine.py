"""The rule engine: facts in, cards out.

`Evaluator(ruleset, catalogue)` compiles once (rule order per hook, validated parameters per
practice overlay, card statics, referral templates); `evaluate()` then builds the facts, runs
the enabled rules of the hook, applies the exclusions, and renders one card per rule that fired.

Exclusions (docs/definitions.md §1): a rule listing `oat` never judges OAT orders, one listing
`antitussive-codeine` never judges codeine for cough; a rule listing
`palliative-or-cancer` is silent for a patient with active palliative care or cancer, and never
judges an order whose indication is cancer pain (`defaults.suppress_in_palliative_or_cancer`).
A rule whose data is missing (the `needs` it is registered with) does not run; the cards of the
other rules name the missing prefetch keys, and the `incomplete-check` card names each missing
search that a rule of the hook needs or reads, so that silence is never taken for an all-clear.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from cds_hooks.draft_orders import DraftOrders
from cds_hooks.failures import describe_failure
from cds_hooks.models import Card
from cds_hooks.prefetch import searched_type
from rules.cards.render import CardRenderer
from rules.cards.suggestions import ReferralTemplates, SuggestionFactory
from rules.facts import Facts, OrderFacts, Problem, ProblemReason, build_facts
from rules.hooks import HOOK_SPECS, SPEC_BY_HOOK
from rules.language import DEFAULT_LANGUAGE, Language
from rules.registry import (
    RULE_REGISTRY,
    RuleContext,
    RuleDefinition,
    RuleParameters,
    load_builtin_rules,
)
from rules.rulesets import LocalizedText, RuleSet, RuleSpec

__all__ = ["Evaluation", "EvaluationInput", "Evaluator"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvaluationInput:
    hook: str
    context: Mapping[str, Any]
    draft_orders: DraftOrders
    """context.draftOrders, read once (`DraftOrders.of(context)`)."""
    resources: Sequence[Mapping[str, Any]]
    """All prefetched/fetched resources, flattened out of Bundles, OperationOutcomes removed."""
    missing_data: frozenset[str] = frozenset()
    """Prefetch keys that could not be had."""
    unasked_data: frozenset[str] = frozenset()
    """Of `missing_data`, the keys whose template the context cannot fill, that the client did
    not send: missing by design, so not named on incomplete-check (each call would be)."""
    cut_off_searches: frozenset[str] = frozenset()
    """Resource types of the history searches whose paging stopped short (reported by
    `incomplete-check`)."""
    unreadable_searches: frozenset[str] = frozenset()
    """Resource types of the searches with entries that hold nothing to read (reported by
    `incomplete-check`)."""
    language: Language = DEFAULT_LANGUAGE
    today: date = field(default_factory=date.today)


@dataclass
class Evaluation:
    cards: list[Card]
    """The cards, checked by the CDS Hooks models when built; `CdsResponse` sends them."""
    fired_rule_ids: list[str]
    skipped_rule_ids: dict[str, str] = field(default_factory=dict)
    """Rules that did not run, with the reason (missing data, disabled for the practice)."""
    facts: Facts | None = None


@dataclass(frozen=True)
class _CompiledRule:
    spec: RuleSpec
    definition: RuleDefinition
    default_params: RuleParameters
    excludes_oat: bool
    excludes_antitussive_codeine: bool
    excludes_palliative_or_cancer: bool
    referrals: tuple[str, ...]
    referrals_if_opioid_use_disorder: tuple[str, ...]
    enabled: bool
    """Enabled for an organisation without a practice overlay."""


def cut_off_keys(templates: Mapping[str, str], cut_off_types: frozenset[str]) -> frozenset[str]:
    """The prefetch keys whose search (by resource type) came back cut off or incomplete."""
    return frozenset(
        key for key, template in templates.items() if searched_type(template) in cut_off_types
    )


class Evaluator:
    def __init__(self, ruleset: RuleSet, catalogue: Any) -> None:
        load_builtin_rules()
        self.ruleset = ruleset
        self.catalogue = catalogue
        defaults = ruleset.defaults
        self.fact_settings = defaults.fact_settings
        self._exclusion_sets = frozenset(defaults.exclusion_condition_sets)
        self._rules: dict[str, _CompiledRule] = {}
        for rule_id, spec in ruleset.rules.items():
            definition = RULE_REGISTRY[rule_id]
            self._rules[rule_id] = _CompiledRule(
                spec=spec,
                definition=definition,
                default_params=definition.parameters.model_validate(spec.parameters),
                excludes_oat="oat" in spec.exclusions,
                excludes_antitussive_codeine="antitussive-codeine" in spec.exclusions,
                excludes_palliative_or_cancer="palliative-or-cancer" in spec.exclusions,
                referrals=tuple(spec.referrals),
                referrals_if_opioid_use_disorder=tuple(spec.referrals_if_opioid_use_disorder),
                enabled=ruleset.enabled_for(rule_id),
            )
        # Rules run in the order their cards are shown within one indicator: safety rules,
        # then the agreements, then the background cards (`listed_last`).
        self._by_hook: dict[str, list[str]] = {
            hook_spec.hook: sorted(
                (
                    rule_id
                    for rule_id, spec in ruleset.rules.items()
                    if hook_spec.hook in spec.hooks
                ),
                key=lambda rule_id: _listing_position(ruleset.rules[rule_id]),
            )
            for hook_spec in HOOK_SPECS
        }
        # Parameters per (rule, practice) are validated once, not per call.
        self._overlay_params: dict[tuple[str, str], RuleParameters] = {}
        self._overlay_enabled: dict[tuple[str, str], bool] = {}
        for agb in ruleset.overlays:
            for rule_id, compiled in self._rules.items():
                self._overlay_enabled[(rule_id, agb)] = ruleset.enabled_for(rule_id, agb)
                self._overlay_params[(rule_id, agb)] = (
                    compiled.definition.parameters.model_validate(
                        ruleset.parameters_for(rule_id, agb)
                    )
                )
        # The prefetch keys the rules of each hook need or judge on (`RuleDefinition.reads`).
        self._read_by_hook: dict[str, frozenset[str]] = {
            hook: frozenset(
                key
                for rule_id in rule_ids
                for key in self._rules[rule_id].definition.needs
                | self._rules[rule_id].definition.reads
            )
            for hook, rule_ids in self._by_hook.items()
        }
        self.renderer = CardRenderer(ruleset, catalogue.system_key)
        self.referral_templates = ReferralTemplates(ruleset)

    def rule_ids_for(self, hook: str) -> list[str]:
        return list(self._by_hook.get(hook, []))

    @staticmethod
    def organisation_agb(facts: Facts) -> str | None:
        """The AGB code that selects a practice overlay: the prescribing organisation's."""
        for order in facts.opioid_orders or facts.orders:
            if order.organisation_agb:
                return order.organisation_agb
        return None

    def evaluate(self, evaluation_input: EvaluationInput) -> Evaluation:
        facts = build_facts(
            hook=evaluation_input.hook,
            context=evaluation_input.context,
            draft_orders=evaluation_input.draft_orders,
            resources=evaluation_input.resources,
            today=evaluation_input.today,
            catalogue=self.catalogue,
            settings=self.fact_settings,
        )
        searches = self._search_problems(evaluation_input, facts)
        if searches:
            facts = replace(facts, problems=facts.problems + searches)
        return self.evaluate_facts(facts, evaluation_input)

    def _search_problems(
        self, evaluation_input: EvaluationInput, facts: Facts
    ) -> tuple[Problem, ...]:
        """The searches that came back incomplete, and those that did not come at all while a
        rule of the hook needs or reads them and there is an opioid or sedative drafted to
        judge: without a line on the incomplete-check card, a rule gone silent for want of data
        (the only card of the call, say) would go unsaid."""
        spec = SPEC_BY_HOOK.get(evaluation_input.hook)
        unavailable: list[Problem] = []
        if spec is not None and (facts.opioid_orders or facts.sedative_orders):
            read = self._read_by_hook.get(spec.hook, frozenset()) & spec.prefetch.keys()
            unavailable = [
                Problem(f"{searched_type(spec.prefetch[key])} search", ProblemReason.NOT_AVAILABLE)
                for key in sorted(
                    (evaluation_input.missing_data - evaluation_input.unasked_data) & read
                )
            ]
        cut_off = [
            Problem(f"{kind} search", ProblemReason.CUT_OFF)
            for kind in sorted(evaluation_input.cut_off_searches)
        ]
        unreadable = [
            Problem(f"{kind} search", ProblemReason.ENTRIES_UNREADABLE)
            for kind in sorted(evaluation_input.unreadable_searches)
        ]
        return (*unavailable, *cut_off, *unreadable)

    def evaluate_facts(self, facts: Facts, evaluation_input: EvaluationInput) -> Evaluation:
        hook = evaluation_input.hook
        hook_spec = SPEC_BY_HOOK.get(hook)
        if hook_spec is None:  # no service answers it, so no rule runs
            return Evaluation(cards=[], fired_rule_ids=[], facts=facts)
        language = evaluation_input.language
        missing = evaluation_input.missing_data
        for problem in facts.problems:
            # The kind, the reason's code and an error type or OME reason: never patient data.
            _log.warning(
                "incomplete-check: %s: %s%s",
                problem.what,
                problem.reason,
                f" ({problem.detail})" if problem.detail else "",
            )
        agb = self.organisation_agb(facts)
        patient = facts.patient

        opioid_orders = [
            order
            for order in facts.opioid_orders
            if order.selected or not hook_spec.judges_selected_orders_only
        ]
        suppress = self.ruleset.defaults.suppress_in_palliative_or_cancer
        patient_excluded = suppress and bool(patient.condition_sets & self._exclusion_sets)
        # What each exclusion says of each order, read once for all the rules.
        order_exclusions = [
            (
                order,
                order.is_oat,
                order.is_antitussive_codeine,
                suppress and bool(order.indication_sets & self._exclusion_sets),
            )
            for order in opioid_orders
        ]

        drafts_by_id = _drafts_by_order_id(evaluation_input.draft_orders, facts.orders)
        factory = SuggestionFactory(
            ruleset=self.ruleset,
            referral_templates=self.referral_templates,
            language=language,
            drafts=drafts_by_id,
            units_per_day={order.order_id: order.units_per_day for order in facts.orders},
            patient_ref=f"Patient/{patient.patient_id}" if patient.patient_id else None,
            postcode=patient.postcode,
        )
        orders_by_id = {order.order_id: order for order in facts.orders}
        explanation_context: dict[str, Any] = {"hook": hook}
        # A cut-off search is listed too, but its rules still run: on the part that came, with
        # the `incomplete-check` card naming what is missing.
        incomplete = evaluation_input.cut_off_searches | evaluation_input.unreadable_searches
        listed = missing | cut_off_keys(hook_spec.prefetch, incomplete)
        if listed:
            explanation_context["missing_data"] = sorted(listed)
        # The practice's overlay, when it has one: else every rule runs as the region set it.
        overlay = agb if agb is not None and agb in self.ruleset.overlays else None
        if overlay is not None:
            explanation_context["practice_overlay"] = overlay

        shared_texts = self.ruleset.file.shared_texts

        def texts_of(own: Mapping[str, LocalizedText]) -> Callable[..., str]:
            """`ctx.text`: the rule's own `texts` first, then the shared texts."""

            def text(key: str, **values: Any) -> str:
                # `<key>_one` / `<key>_zero` where the rule set has them: "1 dag", "once a day".
                count = values.get("count")
                if isinstance(count, (int, float)) and count in (0, 1):
                    variant = f"{key}_zero" if count == 0 else f"{key}_one"
                    key = variant if variant in own or variant in shared_texts else key
                found = own.get(key) or shared_texts[key]
                return found.get(language).format(**values)

            return text

        evaluation = Evaluation(cards=[], fired_rule_ids=[], facts=facts)
        # A rule that raises loses its card. Silence would read as "nothing wrong", so every
        # failed check is named on the incomplete-check card, which therefore runs after all
        # the others (and, when a check failed, also where it is not enabled for the hook or
        # the practice: the GP must be told).
        failed: list[Problem] = []

        def run_rule(rule_id: str, rule_facts: Facts, *, forced: bool = False) -> None:
            compiled = self._rules[rule_id]
            enabled, params = compiled.enabled, compiled.default_params
            if overlay is not None:
                enabled = self._overlay_enabled[(rule_id, overlay)]
                params = self._overlay_params[(rule_id, overlay)]
            if not enabled and not forced:
                evaluation.skipped_rule_ids[rule_id] = "disabled"
                return
            lacking = compiled.definition.needs & missing
            if lacking:
                evaluation.skipped_rule_ids[rule_id] = "missing data: " + ", ".join(sorted(lacking))
                return
            if compiled.excludes_palliative_or_cancer and patient_excluded:
                evaluation.skipped_rule_ids[rule_id] = "palliative care or cancer"
                return
            targets = [
                order
                for order, oat, antitussive, palliative in order_exclusions
                if not (compiled.excludes_oat and oat)
                and not (compiled.excludes_antitussive_codeine and antitussive)
                and not (compiled.excludes_palliative_or_cancer and palliative)
            ]
            context: RuleContext[Any] = RuleContext(
                facts=rule_facts,
                orders=targets,
                params=params,
                hook=hook_spec,
                today=facts.today,
                language=language,
                defaults=self.ruleset.defaults,
                referrals=compiled.referrals,
                referrals_if_opioid_use_disorder=compiled.referrals_if_opioid_use_disorder,
                text=texts_of(compiled.spec.texts),
            )
            try:
                finding = compiled.definition.check(context)
                if finding is None:
                    return
                card = self.renderer.render(
                    rule_id=rule_id,
                    finding=finding,
                    language=language,
                    orders_by_id=orders_by_id,
                    explanation_context=explanation_context,
                    factory=factory,
                )
            except Exception as exc:
                # A defect in one rule must not cost the GP the other cards (nor give a 500);
                # it is logged with its frames (never its message: it may quote patient
                # data), reported as skipped, and named on the incomplete-check card (the
                # rule's title only).
                _log.error("rule %s failed on hook %s: %s", rule_id, hook, describe_failure(exc))
                evaluation.skipped_rule_ids[rule_id] = "error"
                title = compiled.spec.title.get(language)
                failed.append(Problem(f"check '{title}'", ProblemReason.CHECK_FAILED))
                return
            evaluation.fired_rule_ids.append(rule_id)
            evaluation.cards.append(card)

        hook_rules = self._by_hook.get(hook, [])
        for rule_id in hook_rules:
            if rule_id != _INCOMPLETE_CHECK:
                run_rule(rule_id, facts)
        if failed and _INCOMPLETE_CHECK in self._rules:
            with_failures = replace(facts, problems=(*facts.problems, *failed))
            run_rule(_INCOMPLETE_CHECK, with_failures, forced=True)
        elif _INCOMPLETE_CHECK in hook_rules:
            run_rule(_INCOMPLETE_CHECK, facts)
        # Critical first, then warning, then info; the sort is stable, so within one
        # indicator the cards keep the order the rules ran in.
        evaluation.cards.sort(key=lambda card: _INDICATOR_RANK[card.indicator])
        return evaluation


_INDICATOR_RANK = {"critical": 0, "warning": 1, "info": 2}
_INCOMPLETE_CHECK = "incomplete-check"
"""The rule that names what could not be checked, failed rules included; it runs last."""


def _listing_position(spec: RuleSpec) -> tuple[int, int]:
    group = 2 if spec.listed_last else 1 if spec.agreement else 0
    return (group, spec.number)


def _drafts_by_order_id(
    draft_orders: DraftOrders, orders: Sequence[OrderFacts]
) -> dict[str, Mapping[str, Any]]:
    """The raw draft MedicationRequest per order id, for `update` suggestions; an order merged
    from an MP9 agreement and its dispense request has the agreement's id, so gets the
    agreement."""
    known = {order.order_id for order in orders}
    return {
        draft.order_id: draft.resource
        for draft in draft_orders.medication_requests
        if draft.order_id in known
    }
