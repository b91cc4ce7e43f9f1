"""Example cards for docs/rules.md: each rule's card as a GP sees it, from a shipped fixture.

For every rule, the fixture that names it in `must_fire` with the fewest other rules is
answered offline (as `opioid-cds evaluate` does) in Dutch and English, on the fixtures' own
anchor date so that the dates on the cards, and so docs/rules.md, do not change from day to day.
"""

from __future__ import annotations

from app.evaluation import load_evaluator
from app.offline import evaluate_offline
from app.settings import Settings
from rules.fixtures import ANCHOR_DATE, list_fixtures, load_expectation, load_fixture
from rules.language import SUPPORTED_LANGUAGES
from rules.rulesets.docs import ExampleCard

__all__ = ["example_cards"]


async def example_cards() -> dict[str, list[ExampleCard]]:
    """Per rule id, its example card in every supported language (rules without a fixture
    that must fire them are left out; docs/rules.md says so)."""
    chosen: dict[str, tuple[int, str]] = {}
    paths = {path.name.removesuffix(".json"): path for path in list_fixtures()}
    for name, path in paths.items():
        must_fire = load_expectation(path).must_fire
        for rule_id in must_fire:
            candidate = (len(must_fire), name)
            if rule_id not in chosen or candidate < chosen[rule_id]:
                chosen[rule_id] = candidate
    evaluator = load_evaluator(Settings(environment="development", trusted_clients=None))
    examples: dict[str, list[ExampleCard]] = {}
    for rule_id, (_, name) in sorted(chosen.items()):
        payload, expectation = load_fixture(paths[name], today=ANCHOR_DATE)
        for language in SUPPORTED_LANGUAGES:
            result = await evaluate_offline(
                payload, expectation.service, language, today=ANCHOR_DATE, evaluator=evaluator
            )
            for card in result.body.get("cards", []):
                if card["source"]["topic"]["code"] == rule_id:
                    examples.setdefault(rule_id, []).append(ExampleCard(name, language, card))
    return examples
