"""Findings → CDS Hooks cards (docs/definitions.md §4).

A card is built as the CDS Hooks models (`cds_hooks.models.Card`, `Suggestion`, `Link`), so a
card that breaks the protocol is caught when it is built, and the models alone decide its
JSON. Everything that does not depend on the call (source, topic, override reasons, fixed
links) is built once per rule and language when the renderer is created; a call only formats
the texts, lists the orders and, for emitted cards, builds the suggestions.

A suggestion that cannot be built is left off its card; the card is still sent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cds_hooks.failures import describe_failure
from cds_hooks.models import Card, Coding, Link, OverrideReason, Source, Suggestion
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


_log = logging.getLogger(__name__)


def _shorten(text: str, limit: int = MAX_SUMMARY) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + "…"


def order_label(order: OrderFacts) -> str:
    return order.product_display or ", ".join(s.name_nl for s in order.substances) or order.order_id


@dataclass(frozen=True)
class _RuleStatics:
    """A rule's fixed card parts in one language, shared by its cards (never changed)."""

    source: Source
    override_reasons: list[OverrideReason]
    links: list[Link]
    wants_substance_links: bool


class CardRenderer:
    def __init__(
        self, ruleset: RuleSet, system_key: Callable[[str], str | None] = lambda uri: None
    ) -> None:
        """`system_key`: the catalogue's key of a code system URI (`"atc"`, ...)."""
        self.ruleset = ruleset
        self._system_key = system_key
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
        return _RuleStatics(source, reasons, links, SUBSTANCE_LINK in spec.links)

    def _text(self, text: LocalizedText, language: str, values: Mapping[str, Any]) -> str:
        return text.get(language).format_map(values)

    def _substance_links(self, orders: list[OrderFacts], language: str) -> list[Link]:
        catalogue = self.ruleset.links
        links: list[Link] = []
        seen: set[str] = set()
        for order in orders:
            product_slug = next(
                (
                    catalogue.apotheek_product_slugs_by_atc[code]
                    for system, code in order.medication.codes
                    if code in catalogue.apotheek_product_slugs_by_atc
                    and self._system_key(system) == "atc"
                ),
                None,
            )
            if product_slug is not None:
                # A combination: the page of the product, named as the pharmacy names it.
                if product_slug not in seen:
                    seen.add(product_slug)
                    links.append(
                        Link(
                            label=f"Apotheek.nl: {product_slug.replace('-', ' ')}",
                            url=catalogue.apotheek_page_pattern.format(slug=product_slug),
                            type="absolute",
                        )
                    )
                continue
            for substance in order.substances:
                slug = catalogue.apotheek_slugs.get(substance.key, substance.name_nl.lower())
                if slug in seen:
                    continue
                seen.add(slug)
                name = substance.name_nl if language == "nl" else substance.name_en
                links.append(
                    Link(
                        label=f"Apotheek.nl: {name}",
                        url=catalogue.apotheek_page_pattern.format(slug=slug),
                        type="absolute",
                    )
                )
        return links

    def _reason_suggestions(
        self,
        spec: RuleSpec,
        orders: list[OrderFacts],
        language: str,
        factory: SuggestionFactory,
    ) -> list[Suggestion]:
        shared = self.ruleset.file.shared_texts
        order_ids = [order.order_id for order in orders]
        built = []
        for reason in spec.reasons_on_prescription:
            # The note is for the Dutch pharmacy, whatever language the GP reads.
            template = spec.reason_note or shared["reason_note"]
            note = template.nl.format(reason=reason.nl, agreement=spec.title.nl)
            values = {"reason": reason.get(language), "note": note}
            built.append(
                factory.add_note(
                    order_ids,
                    note=note,
                    label=shared["reason_label"].get(language).format_map(values),
                    description=shared["reason_description"].get(language).format_map(values),
                )
            )
        return [suggestion for suggestion in built if suggestion is not None]

    def render(
        self,
        *,
        rule_id: str,
        finding: Finding,
        language: str,
        orders_by_id: Mapping[str, OrderFacts],
        explanation_context: Mapping[str, Any],
        factory: SuggestionFactory,
    ) -> Card:
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
        suggestions: list[Suggestion] = []
        factory.bind(rule_id=rule_id, rule_spec=spec, notes=notes)
        if finding.suggestions is not None:
            try:
                suggestions = finding.suggestions(factory)
            except Exception as exc:
                # The factory drops a suggestion it cannot build; this is the rule's own code.
                # Only the rule and the error type are logged: the data may be about a patient.
                _log.warning(
                    "rule %s: its suggestions could not be built: %s",
                    rule_id,
                    describe_failure(exc),
                )

        if spec.reasons_on_prescription and orders:
            suggestions.extend(self._reason_suggestions(spec, orders, language, factory))

        links = list(statics.links)
        if statics.wants_substance_links:
            links.extend(self._substance_links(orders, language))

        explanation: dict[str, Any] = {
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

        detail = "\n\n".join(part for part in detail_parts if part.strip())
        return Card(
            summary=summary,
            detail=detail or None,
            indicator=finding.indicator or spec.indicator,
            source=statics.source,
            suggestions=suggestions,
            selection_behavior=_selection_behavior(spec, finding, suggestions),
            override_reasons=statics.override_reasons,
            links=links,
            extension={EXPLANATION_KEY: explanation},
        )


def _selection_behavior(
    spec: RuleSpec, finding: Finding, suggestions: list[Suggestion]
) -> str | None:
    if not suggestions:
        return None
    # For one order a stated reason and a change to the order exclude each other: one of
    # them. A change per order for several orders does not (the GP may accept each).
    if spec.reasons_on_prescription and sum(1 for s in suggestions if s.is_recommended) <= 1:
        return "at-most-one"
    return finding.selection_behavior
