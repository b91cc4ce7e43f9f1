"""The rule registry: every check is a small function registered by its rule id.

A rule module does::

    class Parameters(RuleParameters):
        max_days: int = Field(default=7, ge=5, le=7)

    @rule("gp-duration-limit", parameters=Parameters, placeholders={"max_days", ...})
    def gp_duration_limit(ctx: RuleContext[Parameters]) -> Finding | None: ...

The rule set (YAML) supplies the parameter values, texts and indicator; the registry supplies
the code, the parameter schema (used to validate the YAML) and the names a text may use.
Adding a rule is one new module in `rules/checks/` plus its entry in the rule set.

A rule that cannot be judged without some prefetch data says so: `@rule(..., needs={"encounters"})`.
When such a key is missing the rule does not run. Only rules that would fire *wrongly* on
incomplete data declare needs: "no opioid in a year" (new user) or "no consult since" cannot be
concluded from data we do not have. Rules that fire on positive evidence (a sedative, a
pregnancy, a high dose, many prescribers) still run: what they find is true, and the explanation
of every card lists the missing keys. They declare what they judge on: `reads={"conditions"}`.
A key that some rule of the hook needs or reads and that is missing is named on the
`incomplete-check` card too, so that nobody takes silence for an all-clear even when no other
card comes.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Generic, Literal, NamedTuple, TypeVar

from pydantic import BaseModel, ConfigDict

from rules.hooks import PREFETCH_KEYS, HookSpec
from rules.language import Language

if TYPE_CHECKING:
    from cds_hooks.models import Suggestion
    from rules.cards.suggestions import SuggestionFactory
    from rules.facts import Facts, OrderFacts
    from rules.rulesets import RuleSetDefaults

__all__ = [
    "RULE_REGISTRY",
    "Finding",
    "RuleContext",
    "RuleDefinition",
    "RuleParameters",
    "load_builtin_rules",
    "rule",
]


class RuleParameters(BaseModel):
    """Base of a rule's parameter schema; unknown parameters in a rule set are an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


P = TypeVar("P", bound=RuleParameters)

SuggestionBuilder = Callable[["SuggestionFactory"], "list[Suggestion]"]


@dataclass
class Finding:
    """What a rule found: the orders concerned, the facts it used and the text values.

    `values` fill the `{placeholders}` of the rule's texts; `facts` go to the explanation;
    `variant` picks `texts.<variant>_summary` / `texts.<variant>_detail` instead of the defaults;
    `extra_texts` are text keys appended to the detail; `suggestions` is called only when the
    card is rendered, so FHIR resources are built for emitted cards only.
    """

    order_ids: list[str]
    facts: dict[str, Any]
    values: dict[str, Any] = field(default_factory=dict)
    indicator: Literal["info", "warning", "critical"] | None = None
    variant: str | None = None
    extra_texts: list[str] = field(default_factory=list)
    suggestions: SuggestionBuilder | None = None
    selection_behavior: Literal["at-most-one", "any"] = "at-most-one"


class RuleContext(NamedTuple, Generic[P]):
    """Everything a rule may look at during one call (read-only; a named tuple because the
    engine builds one per rule and call, and a tuple is the cheapest immutable record)."""

    facts: Facts
    orders: list[OrderFacts]
    """The drafted opioid orders this rule judges (only the selected ones where the hook
    `judges_selected_orders_only`, minus the rule's exclusions)."""
    params: P
    hook: HookSpec
    today: date
    language: Language
    defaults: RuleSetDefaults
    """The rule set's defaults (look-back windows, ...)."""
    referrals: tuple[str, ...] = ()
    """The referral routes the rule set lists for this rule (directory ids), by preference."""
    referrals_if_opioid_use_disorder: tuple[str, ...] = ()
    """The routes for a patient with an opioid use disorder (empty: `referrals`)."""
    text: Callable[..., str] = lambda key, **values: key
    """`ctx.text("days", count=3)`: the rule's own text of that key (`texts`), else the rule
    set's shared one (`shared_texts`), in the call's language: the words a rule puts into its
    values (so no Dutch or English lives in code). An unknown key raises KeyError."""


RuleCheck = Callable[[RuleContext[Any]], "Finding | None"]


@dataclass(frozen=True)
class RuleDefinition:
    id: str
    check: RuleCheck
    parameters: type[RuleParameters]
    placeholders: frozenset[str]
    text_variants: frozenset[str]
    module: str
    needs: frozenset[str] = frozenset()
    """Prefetch keys without which the rule does not run (see the module docstring)."""
    reads: frozenset[str] = frozenset()
    """Prefetch keys it judges on besides `needs`: without one it runs on what there is."""


RULE_REGISTRY: dict[str, RuleDefinition] = {}


def rule(
    rule_id: str,
    *,
    parameters: type[RuleParameters] = RuleParameters,
    placeholders: Iterable[str] = (),
    text_variants: Iterable[str] = (),
    needs: Iterable[str] = (),
    reads: Iterable[str] = (),
) -> Callable[
    [Callable[[RuleContext[P]], Finding | None]], Callable[[RuleContext[P]], Finding | None]
]:
    """Register a check under `rule_id` (a rule id is registered once); `needs` names the
    prefetch keys it cannot be judged without, `reads` those it also judges on."""
    needed = frozenset(needs)
    read = frozenset(reads) - needed
    if unknown := (needed | read) - PREFETCH_KEYS:
        raise ValueError(f"rule {rule_id!r} names unknown prefetch keys {sorted(unknown)}")

    def register(
        check: Callable[[RuleContext[P]], Finding | None],
    ) -> Callable[[RuleContext[P]], Finding | None]:
        existing = RULE_REGISTRY.get(rule_id)
        if existing is not None and existing.module != check.__module__:
            raise ValueError(f"rule {rule_id!r} is already registered by {existing.module}")
        RULE_REGISTRY[rule_id] = RuleDefinition(
            id=rule_id,
            check=check,
            parameters=parameters,
            placeholders=frozenset(placeholders) | {"orders", "order_count"},
            text_variants=frozenset(text_variants),
            module=check.__module__,
            needs=needed,
            reads=read,
        )
        return check

    return register


def load_builtin_rules() -> None:
    """Import every module of `rules.checks` so that their rules register themselves."""
    package = importlib.import_module("rules.checks")
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"rules.checks.{module.name}")
