"""Findings → CDS Hooks cards (docs/definitions.md §4).

Everything that does not depend on the call (source, topic, override reasons, fixed links) is
built once per rule and language when the renderer is created; a call only formats the texts,
lists the orders and, for emitted cards, builds the suggestions.

A card is built as the JSON the service sends (wire names, no empty values), from parts
checked once at start-up (sources, links, override reasons, referral templates) and the
rule set's checked texts. The CDS Hooks models (`cds_hooks.models.Card`) are the single
source of its shape, but they check it in the tests, not on every call: every fixture in
both languages, and generated facts, must give cards whose JSON is exactly what the models
make of it. Checking each card on every call cost the service 0.45-0.5 ms per call
(client p50 of bench/bench_order_sign.py, in a slow spell of the VM).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Any

from cds_hooks.models import (
    Coding,
    Link,
    OverrideReason,
    Source,
    SuggestionJson,
    new_uuid,
)
from rules.cards.suggestions import SuggestionFactory
from rules.facts import OrderFacts
from rules.language import SUPPORTED_LANGUAGES
from rules.registry import Finding
from rules.rulesets import LocalizedText, RuleSet, RuleSpec

__all__ = [
    "EXPLANATION_KEY",
    "OVERRIDE_REASON_SYSTEM",
    "RULE_TOPIC_SYSTEM",
    "CardRenderer",
]

EXPLANATION_KEY = "nl.opioid-cds.explanation"
RULE_TOPIC_SYSTEM = "urn:opioid-cds:rule"
OVERRIDE_REASON_SYSTEM = "urn:opioid-cds:override-reason"
SUBSTANCE_LINK = "apotheek-substance"
MAX_SUMMARY = 139


_SCALARS = (str, int, float, bool, type(None))


_EMPTYABLE = (str, list, dict)


def json_value(value: Any) -> Any:
    """Dates, enums, sets and tuples as JSON values, with empty values (None, "", [] and {};
    not 0 or False) left out at every depth: explanations are sent as JSON, and the spec sends
    no empty values. One pass, as it runs for every card of every call."""
    kind = type(value)
    # Exact-type checks first: most values are plain scalars, dicts and lists, and the
    # isinstance checks against Mapping below go through the slow ABC machinery.
    if kind in _SCALARS:
        return value
    if kind is dict:
        return _json_object(value)
    if kind is list or kind is tuple:
        return _json_array(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return _json_object(value)
    if isinstance(value, set | frozenset):
        return sorted(_json_array(value))
    if isinstance(value, list | tuple):
        return _json_array(value)
    return value


def _json_object(value: Mapping[Any, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for key, item in value.items():
        item = json_value(item)
        if item is not None and (item or not isinstance(item, _EMPTYABLE)):
            kept[str(key)] = item
    return kept


def _json_array(value: Iterable[Any]) -> list[Any]:
    items = [json_value(item) for item in value]
    return [i for i in items if i is not None and (i or not isinstance(i, _EMPTYABLE))]


def _shorten(text: str, limit: int = MAX_SUMMARY) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def order_label(order: OrderFacts) -> str:
    return order.product_display or ", ".join(s.name_nl for s in order.substances) or order.order_id


@dataclass(frozen=True)
class _RuleStatics:
    """The JSON of a rule's fixed card parts in one language (checked by the models once)."""

    source: dict[str, Any]
    override_reasons: list[dict[str, Any]]
    links: list[dict[str, Any]]
    wants_substance_links: bool


class CardRenderer:
    def __init__(self, ruleset: RuleSet) -> None:
        self.ruleset = ruleset
        self._statics: dict[tuple[str, str], _RuleStatics] = {}
        for rule_id, spec in ruleset.rules.items():
            for language in SUPPORTED_LANGUAGES:
                self._statics[(rule_id, language)] = self._build_statics(rule_id, spec, language)

    def _build_statics(self, rule_id: str, spec: RuleSpec, language: str) -> _RuleStatics:
        source_spec = self.ruleset.file.source
        label = f"{source_spec.label.get(language)} ({self.ruleset.id} {self.ruleset.version})"
        source = Source(
            label=label,
            url=source_spec.url,
            topic=Coding(system=RULE_TOPIC_SYSTEM, code=rule_id, display=spec.title.nl),
        )
        reasons = [
            OverrideReason(
                system=OVERRIDE_REASON_SYSTEM,
                code=code,
                display=self.ruleset.file.override_reasons[code].display.get(language),
            )
            for code in spec.override_reasons
        ]
        links = [
            Link(
                label=self.ruleset.links.links[link_id].label.get(language),
                url=self.ruleset.links.links[link_id].url,
                type="absolute",
            )
            for link_id in spec.links
            if link_id != SUBSTANCE_LINK
        ]
        return _RuleStatics(
            source.to_json_dict(),
            [reason.to_json_dict() for reason in reasons],
            [link.to_json_dict() for link in links],
            SUBSTANCE_LINK in spec.links,
        )

    def _text(self, text: LocalizedText, language: str, values: Mapping[str, Any]) -> str:
        return text.get(language).format_map(values)

    def _substance_links(self, orders: list[OrderFacts], language: str) -> list[dict[str, Any]]:
        catalogue = self.ruleset.links
        links: list[dict[str, Any]] = []
        seen: set[str] = set()
        for order in orders:
            for substance in order.substances:
                slug = catalogue.apotheek_slugs.get(substance.key, substance.name_nl.lower())
                if slug in seen:
                    continue
                seen.add(slug)
                name = substance.name_nl if language == "nl" else substance.name_en
                links.append(
                    {
                        "label": f"Apotheek.nl: {name}",
                        "url": catalogue.apotheek_page_pattern.format(slug=slug),
                        "type": "absolute",
                    }
                )
        return links

    def render(
        self,
        *,
        rule_id: str,
        finding: Finding,
        language: str,
        orders_by_id: Mapping[str, OrderFacts],
        explanation_context: Mapping[str, Any],
        factory: SuggestionFactory,
    ) -> dict[str, Any]:
        spec = self.ruleset.rules[rule_id]
        statics = self._statics[(rule_id, language)]
        orders = [
            orders_by_id[order_id] for order_id in finding.order_ids if order_id in orders_by_id
        ]
        order_lines = "\n".join(
            f"- **{order_label(order)}** (`{order.order_id}`)" for order in orders
        )
        values: dict[str, Any] = {
            "orders": order_lines,
            "order_count": len(orders),
            **finding.values,
        }

        summary_text = spec.summary
        detail_text = spec.detail
        if finding.variant is not None:
            summary_text = spec.texts.get(f"{finding.variant}_summary", summary_text)
            detail_text = spec.texts.get(f"{finding.variant}_detail", detail_text)
        summary = _shorten(self._text(summary_text, language, values))
        detail_parts = [self._text(detail_text, language, values)]
        detail_parts.extend(
            self._text(spec.texts[key], language, values) for key in finding.extra_texts
        )
        if order_lines and "{orders}" not in detail_text.get(language):
            heading = self.ruleset.file.shared_texts["orders_heading"].get(language)
            detail_parts.append(f"{heading}\n{order_lines}")
        if spec.agreement:
            detail_parts.append(self.ruleset.file.shared_texts["pharmacy_calls"].get(language))

        notes: dict[str, Any] = {}
        suggestions: list[SuggestionJson] = []
        if finding.suggestions is not None:
            factory.bind(rule_spec=spec, notes=notes)
            suggestions = finding.suggestions(factory)

        links = list(statics.links)
        if statics.wants_substance_links:
            links.extend(self._substance_links(orders, language))

        explanation: dict[str, Any] = json_value(
            {
                "rule_id": rule_id,
                "ruleset": {"id": self.ruleset.id, "version": self.ruleset.version},
                "order_ids": finding.order_ids,
                "facts": finding.facts,
                # How each order's product was recognised; text-only says `coded: false`.
                "medications": [
                    {
                        "order_id": order.order_id,
                        "product": order.product_display,
                        "recognised_by": order.recognised_by,
                        "coded": order.coded,
                    }
                    for order in orders
                ],
                **explanation_context,
                "notes": notes,
            }
        )

        # Optional parts only when they hold something: the spec sends no empty values.
        card: dict[str, Any] = {"uuid": new_uuid(), "summary": summary}
        detail = "\n\n".join(part for part in detail_parts if part.strip())
        if detail:
            card["detail"] = detail
        card["indicator"] = finding.indicator or spec.indicator
        card["source"] = statics.source
        if suggestions:
            card["suggestions"] = suggestions
            card["selectionBehavior"] = finding.selection_behavior
        if statics.override_reasons:
            card["overrideReasons"] = statics.override_reasons
        if links:
            card["links"] = links
        card["extension"] = {EXPLANATION_KEY: explanation}
        return card
