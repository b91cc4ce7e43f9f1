"""The report rows of one evaluated call, built on the request path (so kept cheap: a few
attribute reads per opioid order and per card) and stored by the audit writer off it.

Only what the report counts is kept: what was ordered, how, by which kind of prescriber,
and which rules fired. No patient reference, no names, no free text (the medication's display
text is not stored either: the substance key from the catalogue is). The prescriber is an
HMAC pseudonym, keyed with the audit secret and domain-separated from patient pseudonyms, so
the report can count distinct prescribers without knowing who they are.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Final

from app.evaluation import Evaluation
from cds_hooks.models import Card
from rules.cards import EXPLANATION_KEY, RULE_TOPIC_SYSTEM
from rules.facts import OrderFacts
from rules.rulesets import RuleSet

__all__ = ["DURATION_RULE", "ReportRecorder", "ReportRows", "card_rule_id"]

DURATION_RULE: Final = "gp-duration-limit"
"""The rule whose `max_days` is the agreement an order's duration is counted against."""

ReportRows = tuple[tuple[dict[str, Any], ...], tuple[dict[str, Any], ...]]
"""(order rows, card rows), without `evaluated_at` (the audit event's time is used)."""

_NO_ROWS: Final[ReportRows] = ((), ())
_AGB: Final = re.compile(r"[0-9]{8}")


def _agb(value: str | None) -> str | None:
    """An organisation's AGB code, or None: whatever else a client put in the identifier
    (a name, free text) is not stored."""
    return value if value is not None and _AGB.fullmatch(value) else None


def card_rule_id(card: Card) -> str | None:
    topic = card.source.topic
    if topic is not None and topic.system == RULE_TOPIC_SYSTEM:
        return topic.code
    return None


def _card_order_ids(card: Card) -> Sequence[str]:
    explanation = (card.extension or {}).get(EXPLANATION_KEY)
    if isinstance(explanation, Mapping):
        order_ids = explanation.get("order_ids")
        if isinstance(order_ids, list):
            return [str(order_id) for order_id in order_ids]
    return ()


class ReportRecorder:
    def __init__(self, ruleset: RuleSet, secret: str) -> None:
        self._ruleset = ruleset
        self._key = secret.encode()
        self._max_days: dict[str | None, int | None] = {}

    def prescriber_pseudonym(self, order: OrderFacts) -> str | None:
        identity = order.requester_agb or order.requester_ref
        if not identity:
            return None
        # A prefix of its own: the same id hashed as a patient id must not give the same value.
        message = b"prescriber\x00" + identity.encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def gp_max_days(self, agb: str | None) -> int | None:
        """The practice's `max_days` of the duration agreement (its overlay, else the region's);
        None when the rule set has no such rule. Cached: overlays are fixed for the process."""
        if agb not in self._max_days:
            value: int | None = None
            if DURATION_RULE in self._ruleset.rules:
                raw = self._ruleset.parameters_for(DURATION_RULE, agb).get("max_days")
                value = int(raw) if isinstance(raw, int | float) else None
            self._max_days[agb] = value
        return self._max_days[agb]

    def rows(self, hook: str, evaluation: Evaluation) -> ReportRows:
        facts = evaluation.facts
        if facts is None:
            return _NO_ROWS
        call_id = uuid.uuid4().hex
        cards: list[dict[str, Any]] = []
        rules_by_order: dict[str, list[str]] = {}
        call_wide: list[str] = []  # a card that names no order is about the whole call
        practice = _practice_agb(facts.opioid_orders)
        for card in evaluation.cards:
            rule_id = card_rule_id(card)
            if rule_id is None:
                continue
            cards.append(
                {
                    "call_id": call_id,
                    "hook": hook,
                    "practice_agb": practice,
                    "card_uuid": card.uuid[:100],
                    "rule_id": rule_id,
                }
            )
            order_ids = _card_order_ids(card)
            if not order_ids:
                call_wide.append(rule_id)
            for order_id in order_ids:
                rules_by_order.setdefault(order_id, []).append(rule_id)
        orders = tuple(
            self._order_row(
                order, call_id, hook, [*rules_by_order.get(order.order_id, ()), *call_wide]
            )
            for order in facts.opioid_orders
            if order.selected
        )
        return orders, tuple(cards)

    def _order_row(
        self, order: OrderFacts, call_id: str, hook: str, rule_ids: list[str]
    ) -> dict[str, Any]:
        agb = _agb(order.organisation_agb)
        return {
            "call_id": call_id,
            "hook": hook,
            "practice_agb": agb,
            "prescriber_pseudonym": self.prescriber_pseudonym(order),
            "prescriber_role": order.prescriber_role.value,
            "substance": "+".join(sorted(s.key for s in order.substances))[:100] or None,
            "strength": order.strength.value if order.strength else None,
            "release_type": order.release_type.value,
            "route": order.route[:30] if order.route else None,
            "duration_days": order.total_covered_days,
            "duration_indefinite": order.duration_indefinite,
            "doses_per_day": order.doses_per_day,
            "ome_mg_per_day": order.ome_mg_per_day,
            "has_indication": order.has_indication,
            "repeats_allowed": order.repeats_allowed,
            "gp_max_days": self.gp_max_days(agb),
            "rule_ids": sorted(set(rule_ids)),
        }


def _practice_agb(orders: Sequence[OrderFacts]) -> str | None:
    for order in orders:
        if order.organisation_agb:
            return _agb(order.organisation_agb)
    return None
