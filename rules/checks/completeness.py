"""What could not be checked: the `incomplete-check` card (docs/definitions.md, [r2]).

The facts builder reports every value, draft or history resource it could not read or resolve
(`Facts.problems`); this rule names each of them once per call, so nothing is dropped silently.
A problem carries no patient data: what kind of thing, why, and the order id or reference.
"""

from __future__ import annotations

from rules.facts import Problem
from rules.registry import Finding, RuleContext, RuleParameters, rule


def _line(problem: Problem) -> str:
    where = f" (`{problem.ref}`)" if problem.ref else ""
    return f"- {problem.what}: {problem.reason}{where}"


@rule("incomplete-check", placeholders={"problems", "problem_count"})
def incomplete_check(ctx: RuleContext[RuleParameters]) -> Finding | None:
    """One card per call naming each thing not checked and why."""
    problems = ctx.facts.problems
    if not problems:
        return None
    refs = {problem.ref for problem in problems if problem.ref}
    order_ids = [order.order_id for order in ctx.facts.orders if order.order_id in refs]
    return Finding(
        order_ids=order_ids,
        facts={"problems": [{"what": p.what, "reason": p.reason, "ref": p.ref} for p in problems]},
        values={
            "problems": "\n".join(_line(problem) for problem in problems),
            "problem_count": len(problems),
        },
    )
