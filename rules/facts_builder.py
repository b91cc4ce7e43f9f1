"""Facts builder (implementation in progress): FHIR JSON → rules.facts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from rules.catalogue import Catalogue
from rules.facts import Facts, FactSettings


def build_facts_impl(
    *,
    hook: str,
    context: Mapping[str, Any],
    draft_orders: Sequence[Mapping[str, Any]],
    resources: Sequence[Mapping[str, Any]],
    today: date,
    catalogue: Catalogue,
    settings: FactSettings,
) -> Facts:
    raise NotImplementedError
