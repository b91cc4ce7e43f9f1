"""Cards and suggestions per call over the order-sign fixtures (a realistic mix of situations).

    .venv/bin/python bench/cards_per_call.py [--language nl|en]

Prints, per fixture, the rules that fired and the number of suggestions and links, then the
averages. docs/performance.md does not track this; the card issue's note does: fewer, better
cards per call without losing a card the rule set requires.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics

from app.offline import evaluate_offline
from rules.fixtures import list_fixtures, load_fixture


async def _main(language: str) -> None:
    cards: list[int] = []
    suggestions: list[int] = []
    links: list[int] = []
    for path in list_fixtures():
        payload, expectation = load_fixture(path)
        if expectation.hook != "order-sign":
            continue
        result = await evaluate_offline(payload, expectation.service, language)
        body_cards = result.body.get("cards", [])
        fired = [card["source"]["topic"]["code"] for card in body_cards]
        n_suggestions = sum(len(card.get("suggestions", [])) for card in body_cards)
        n_links = sum(len(card.get("links", [])) for card in body_cards)
        cards.append(len(body_cards))
        suggestions.append(n_suggestions)
        links.append(n_links)
        print(
            f"{path.stem:55} {len(body_cards)} cards {n_suggestions:3} sugg {n_links:3} links"
            f"  {', '.join(fired)}"
        )
    print(
        f"\n{len(cards)} order-sign fixtures: {statistics.mean(cards):.2f} cards per call, "
        f"{statistics.mean(suggestions):.2f} suggestions, {statistics.mean(links):.2f} links"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--language", default="nl", choices=["nl", "en"])
    asyncio.run(_main(parser.parse_args().language))


if __name__ == "__main__":
    main()
