"""The seam between the HTTP layer and the rule engine (temporary: no findings until the
rules land)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from cds_hooks.models import Card

__all__ = ["Evaluation", "HookEvaluator"]


@dataclass(frozen=True)
class Evaluation:
    cards: list[Card] = field(default_factory=list)
    fired_rule_ids: list[str] = field(default_factory=list)


class HookEvaluator:
    def evaluate(
        self,
        *,
        hook: str,
        context: Mapping[str, Any],
        draft_orders: Sequence[Mapping[str, Any]],
        resources: Sequence[Mapping[str, Any]],
        missing_data: frozenset[str],
        language: str,
        today: date,
    ) -> Evaluation:
        return Evaluation()
