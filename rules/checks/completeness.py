"""What could not be checked: the `incomplete-check` card (docs/definitions.md, [r2]).

The facts builder reports every value, draft or history resource it could not read or resolve
(`Facts.problems`); this rule names each of them once per call, so nothing is dropped silently.
A problem carries no patient data: what kind of thing, a reason code, and the order id or
reference. The card names the resource as the GP knows it (product, kind, date, from the
facts) and says the reason in the GP's language (the rule's texts `reason_<code>`); the
technical reference stays as a secondary hint.
"""

from __future__ import annotations

from collections.abc import Callable

from rules.checks._common import format_date
from rules.facts import Facts, Problem, ProblemReason
from rules.registry import Finding, RuleContext, RuleParameters, rule

_MODIFIERS = "modifierExtension"
_HISTORY_KINDS = ("MedicationRequest", "MedicationDispense", "MedicationStatement")


def _optional(text: Callable[..., str], key: str, fallback: str, **values: object) -> str:
    """A text of the rule set, or `fallback` where it has none: nothing is ever lost."""
    try:
        return text(key, **values)
    except KeyError:
        return fallback


def _subject(problem: Problem, facts: Facts, text: Callable[..., str]) -> str | None:
    """The resource as a GP knows it: "OXYCODON TABLET MGA 10MG (dit recept)", "Verstrekking
    OXAZEPAM TABLET 10MG van 12-11-2026 (medicatiegeschiedenis)"; None without a reference."""
    ref = problem.ref
    if ref is None:
        return None
    order = next((order for order in facts.orders if order.order_id == ref), None)
    if order is not None and order.product_display:
        return text("subject_draft", product=order.product_display)
    if order is not None or problem.what == "draft order":
        return text("kind_draft")
    kind = ref.split("/", 1)[0]
    if kind not in _HISTORY_KINDS:
        return None
    exposure = next((e for e in facts.patient.history if e.ref == ref), None)
    sedative = next((s for s in facts.patient.active_sedatives if s.ref == ref), None)
    product = (exposure.product_display if exposure else None) or (
        sedative.display if sedative else None
    )
    on = exposure.prescribed_on if exposure else None
    return text(
        "subject_history",
        kind=text(f"kind_{kind}"),
        product=f" {product}" if product else "",
        on=text("on_date", date=format_date(on, text)) if on else "",
    )


def _line(problem: Problem, facts: Facts, text: Callable[..., str]) -> str:
    subject = _subject(problem, facts, text)
    hint = f" — `{problem.ref}`" if problem.ref else ""
    reason = _optional(text, f"reason_{problem.reason}", problem.reason)
    if problem.reason == ProblemReason.NOT_UNDERSTOOD and problem.what.endswith(_MODIFIERS):
        # The resource was read as if the marker were absent: the risk is a wrong card.
        draft = any(order.order_id == problem.ref for order in facts.orders)
        where = "dosage" if problem.what != _MODIFIERS else "resource"
        key = f"modifier_{'draft' if draft else 'history'}_{where}"
        return f"- {text(key, subject=subject or problem.what)}{hint}"
    # A whole resource (or draft) that could not be read: its name says what.
    element = problem.what
    if element in _HISTORY_KINDS or element == "draft order":
        element = ""
    elif problem.reason == ProblemReason.NOT_RESOLVED:
        element = ""  # "geneesmiddel niet gevonden" names it
    else:
        element = _optional(text, f"what_{element.split(' (')[0]}", element)
    said = ": ".join(part for part in (subject, element) if part)
    return f"- {said}: {reason}{hint}"


@rule(
    "incomplete-check",
    placeholders={
        "problems",
        "problem_count",
        "count",
        "subject",
        "product",
        "kind",
        "on",
        "date",
    },
    text_variants={
        "subject_draft",
        "subject_history",
        "kind_draft",
        "kind_MedicationRequest",
        "kind_MedicationDispense",
        "kind_MedicationStatement",
        "on_date",
        "modifier_draft_resource",
        "modifier_draft_dosage",
        "modifier_history_resource",
        "modifier_history_dosage",
        "items",
    },
)
def incomplete_check(ctx: RuleContext[RuleParameters]) -> Finding | None:
    """One card per call naming each thing not checked and why."""
    problems = ctx.facts.problems
    if not problems:
        return None
    refs = {problem.ref for problem in problems if problem.ref}
    order_ids = [order.order_id for order in ctx.facts.orders if order.order_id in refs]
    return Finding(
        order_ids=order_ids,
        facts={
            "problems": [
                {"what": p.what, "reason": p.reason, "ref": p.ref, "detail": p.detail}
                for p in problems
            ]
        },
        values={
            "problems": "\n".join(_line(problem, ctx.facts, ctx.text) for problem in problems),
            "problem_count": ctx.text("items", count=len(problems)),
        },
    )
