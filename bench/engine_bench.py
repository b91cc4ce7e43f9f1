"""In-process timing of one evaluation, split into facts and rules + cards.

Run: ``.venv/bin/python bench/engine_bench.py [--rounds N]``

For a few fixtures (the large order-sign history first) it prints median and p99 of
- ``facts``: `build_facts` on the parsed request;
- ``rules+cards``: the engine on those facts (rules, card texts, suggestions validated with
  fhir.resources for the cards that carry them);
- ``total``: `Evaluator.evaluate`, both together;
and for the request of `bench/realistic_request.py`, rules + cards + the response JSON (the
cards built as the CDS Hooks models and serialised by them, `app.pipeline.response_json`).
No HTTP: `bench/bench_order_sign.py` measures the service end to end.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.pipeline import response_json
from bench.realistic_request import realistic_order_sign
from cds_hooks.draft_orders import DraftOrders
from rules.catalogue import load_catalogue
from rules.engine import EvaluationInput, Evaluator
from rules.facts import build_facts
from rules.fixtures import list_fixtures, load_fixture
from rules.rulesets import load_ruleset

FIXTURES = [
    "large-history-order-sign",
    "chronic-use-barneveld",
    "gp-duration-14-days",
    "opioid-use-disorder",
    "common-path-oxycodon-mga-5-days",
]


def _input(name: str) -> EvaluationInput:
    [path] = [p for p in list_fixtures() if p.stem == name]
    request, expectation = load_fixture(path)
    return _evaluation_input(request, expectation.hook)


def _evaluation_input(request: dict[str, Any], hook: str) -> EvaluationInput:
    context = request["context"]
    drafts = DraftOrders.from_entries(context.get("draftOrders", {}).get("entry", []))
    resources: list[dict[str, Any]] = []
    for value in (request.get("prefetch") or {}).values():
        if isinstance(value, dict) and value.get("resourceType") == "Bundle":
            resources.extend(entry["resource"] for entry in value.get("entry", []))
        elif isinstance(value, dict):
            resources.append(value)
    return EvaluationInput(
        hook=hook,
        context=context,
        draft_orders=drafts,
        resources=resources,
        today=date.today(),
    )


def _timings(call: Callable[[], Any], rounds: int) -> tuple[float, float]:
    for _ in range(max(20, rounds // 10)):
        call()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def _report(evaluator: Evaluator, name: str, rounds: int) -> str:
    evaluation_input = _input(name)

    def facts() -> Any:
        return build_facts(
            hook=evaluation_input.hook,
            context=evaluation_input.context,
            draft_orders=evaluation_input.draft_orders,
            resources=evaluation_input.resources,
            today=evaluation_input.today,
            catalogue=evaluator.catalogue,
            settings=evaluator.fact_settings,
        )

    built = facts()
    f50, f99 = _timings(facts, rounds)
    r50, r99 = _timings(lambda: evaluator.evaluate_facts(built, evaluation_input), rounds)
    t50, t99 = _timings(lambda: evaluator.evaluate(evaluation_input), rounds)
    return (
        f"{name:<34}{len(evaluation_input.resources):>10}"
        f"{f50:>9.2f}/{f99:<6.2f}ms{r50:>9.2f}/{r99:<6.2f}ms{t50:>9.2f}/{t99:<6.2f}ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=500)
    args = parser.parse_args()
    evaluator = Evaluator(load_ruleset(), load_catalogue())
    print(f"{'fixture':<34}{'resources':>10}{'facts p50/p99':>18}{'rules+cards':>18}{'total':>18}")
    for name in FIXTURES:
        print(_report(evaluator, name, args.rounds))
    realistic = _evaluation_input(realistic_order_sign(), "order-sign")
    built = build_facts(
        hook=realistic.hook,
        context=realistic.context,
        draft_orders=realistic.draft_orders,
        resources=realistic.resources,
        today=realistic.today,
        catalogue=evaluator.catalogue,
        settings=evaluator.fact_settings,
    )
    r50, r99 = _timings(lambda: evaluator.evaluate_facts(built, realistic), args.rounds)
    j50, j99 = _timings(
        lambda: response_json(evaluator.evaluate_facts(built, realistic)), args.rounds
    )
    print(
        f"realistic order-sign: rules+cards {r50:.3f}/{r99:.3f} ms, "
        f"with the response JSON {j50:.3f}/{j99:.3f} ms (p50/p99)"
    )


if __name__ == "__main__":
    main()
