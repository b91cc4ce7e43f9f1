"""In-process timing of one evaluation, split into facts and rules + cards.

Run: ``.venv/bin/python bench/engine_bench.py [--rounds N]``

For a few fixtures (the large order-sign history first) and the request of
`bench/realistic_request.py` it prints median and p99 of
- ``facts``: `build_facts` on the parsed request;
- ``rules+cards``: the engine on the facts just built (rules, card texts, suggestions validated
  with fhir.resources for the cards that carry them);
- ``total``: `Evaluator.evaluate`, both together;
and for the realistic request also rules + cards + the response JSON (the cards built as the
CDS Hooks models and serialised by them, `app.pipeline.response_json`).

The three are measured in turn within each round, so a slow spell of the machine falls on all
of them alike, and the rules run on facts built in that round: nothing a first use of the
facts computes or warms is left out of ``rules+cards`` (``total`` is its check: it should be
close to the sum of the other two). As in the service, what lives as long as the process is
set aside from the collector after the warm-up (`gc.freeze()`, `app.main`). No HTTP:
`bench/bench_wrk.py` measures the service end to end.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.pipeline import response_json
from bench.realistic_request import realistic_order_sign
from cds_hooks.draft_orders import DraftOrders
from rules.catalogue import load_catalogue
from rules.engine import EvaluationInput, Evaluator
from rules.facts import Facts, build_facts
from rules.fixtures import list_fixtures, load_fixture
from rules.rulesets import load_ruleset

FIXTURES = [
    "large-history-order-sign",
    "chronic-use-barneveld",
    "gp-duration-14-days",
    "opioid-use-disorder",
    "common-path-oxycodon-mga-5-days",
]
REALISTIC = "realistic order-sign (bench/)"


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


def _facts(evaluator: Evaluator, evaluation_input: EvaluationInput) -> Facts:
    return build_facts(
        hook=evaluation_input.hook,
        context=evaluation_input.context,
        draft_orders=evaluation_input.draft_orders,
        resources=evaluation_input.resources,
        today=evaluation_input.today,
        catalogue=evaluator.catalogue,
        settings=evaluator.fact_settings,
    )


def _round(
    evaluator: Evaluator, evaluation_input: EvaluationInput, *, with_json: bool, total_first: bool
) -> list[float]:
    """One round: facts, rules + cards on those facts, the whole evaluation (and, with_json,
    rules + cards + response JSON on facts of their own), in milliseconds. `total_first`
    runs the whole evaluation before the parts (every other round: what runs first in a
    round finds the caches of the round before)."""
    clock = time.perf_counter
    total = 0.0
    if total_first:
        started = clock()
        evaluator.evaluate(evaluation_input)
        total = clock() - started
    started = clock()
    facts = _facts(evaluator, evaluation_input)
    built = clock()
    evaluator.evaluate_facts(facts, evaluation_input)
    ruled = clock()
    if not total_first:
        evaluator.evaluate(evaluation_input)
        total = clock() - ruled
    times = [built - started, ruled - built, total]
    if with_json:
        facts = _facts(evaluator, evaluation_input)
        started = clock()
        response_json(evaluator.evaluate_facts(facts, evaluation_input))
        times.append(clock() - started)
    return [1000 * seconds for seconds in times]


def _measure(
    evaluator: Evaluator, inputs: dict[str, EvaluationInput], rounds: int
) -> dict[str, list[list[float]]]:
    def one(name: str, turn: int) -> list[float]:
        return _round(
            evaluator, inputs[name], with_json=name == REALISTIC, total_first=turn % 2 == 1
        )

    for name in inputs:  # warm-up: caches filled, code paths taken
        for turn in range(max(20, rounds // 10)):
            one(name, turn)
    gc.collect()
    gc.freeze()
    samples: dict[str, list[list[float]]] = {name: [] for name in inputs}
    for turn in range(rounds):
        for name in inputs:
            samples[name].append(one(name, turn))
    gc.unfreeze()
    return samples


def _p50_p99(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"{statistics.median(ordered):.2f}/{p99:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=500)
    args = parser.parse_args()
    evaluator = Evaluator(load_ruleset(), load_catalogue())
    inputs = {name: _input(name) for name in FIXTURES}
    inputs[REALISTIC] = _evaluation_input(realistic_order_sign(), "order-sign")
    samples = _measure(evaluator, inputs, max(args.rounds, 1))
    print(
        f"{'fixture':<34}{'resources':>10}{'facts p50/p99':>17}{'rules+cards':>17}"
        f"{'total':>17}{'facts+rules':>13}"
    )
    for name, rounds in samples.items():
        columns = [[row[index] for row in rounds] for index in range(3)]
        p50s = [statistics.median(column) for column in columns]
        print(
            f"{name:<34}{len(inputs[name].resources):>10}"
            + "".join(f"{_p50_p99(column):>14} ms" for column in columns)
            + f"{p50s[0] + p50s[1]:>10.2f} ms"
        )
    realistic = [row[3] for row in samples[REALISTIC]]
    print(f"realistic order-sign: rules+cards with the response JSON {_p50_p99(realistic)} ms")


if __name__ == "__main__":
    main()
