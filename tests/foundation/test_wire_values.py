"""The small value helpers every response goes through: uuids, empty-value removal, JSON values."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from enum import Enum
from typing import Any

import orjson
import pytest

from app.evaluation import load_evaluator
from app.pipeline import HookOutcome, evaluate_hook_request
from app.services import SERVICES
from app.settings import Settings
from app.warmup import warm_up_request
from cds_hooks.models import CdsResponse, drop_empty, new_uuid
from rules.cards.render import json_value
from rules.fixtures import list_fixtures, load_fixture
from rules.language import SUPPORTED_LANGUAGES, Language


def test_new_uuid_is_a_random_rfc4122_version_4_uuid() -> None:
    values = [new_uuid() for _ in range(2000)]
    assert len(set(values)) == len(values)
    for value in values:
        parsed = uuid.UUID(value)
        assert str(parsed) == value  # canonical lower-case 8-4-4-4-12 form
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


def test_drop_empty_removes_empty_values_at_every_depth_and_keeps_zero_and_false() -> None:
    value: dict[str, Any] = {
        "keep": 0,
        "flag": False,
        "none": None,
        "blank": "",
        "nested": {"list": [None, "", {}, [], {"x": None}, 1], "empty": {}},
        "gone": {"a": {"b": None}},
    }
    assert drop_empty(value) == {"keep": 0, "flag": False, "nested": {"list": [1]}}


class _Colour(Enum):
    RED = "red"


def test_json_value_turns_dates_enums_sets_and_tuples_into_json_and_drops_empty_values() -> None:
    value = {
        1: date(2026, 11, 1),
        "colour": _Colour.RED,
        "set": frozenset({"b", "a"}),
        "tuple": (1, (2, 3)),
        "plain": ["x", 1.5, None, True, 0, False, ""],
        "empty": {"set": frozenset(), "list": [None, {}], "text": ""},
    }
    assert json_value(value) == {
        "1": "2026-11-01",
        "colour": "red",
        "set": ["a", "b"],
        "tuple": [1, [2, 3]],
        "plain": ["x", 1.5, True, 0, False],
    }


def _outcome(
    request: dict[str, Any], service_id: str, today: date, language: Language
) -> HookOutcome:
    return asyncio.run(
        evaluate_hook_request(
            request,
            service=SERVICES[service_id],
            evaluator=_EVALUATOR,
            fhir_client_for=lambda _request: None,
            deadline_seconds=1.0,
            language=language,
            today=today,
        )
    )


_EVALUATOR = load_evaluator(Settings())
_SERVICE_FOR_HOOK = {service.hook: service_id for service_id, service in SERVICES.items()}


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_the_json_sent_is_what_the_card_models_serialise(language: Language) -> None:
    """The service builds each card as JSON and sends it as it is; the models only check it.
    What is sent must be exactly what the validated models serialise to (wire names, no null,
    no empty arrays or objects), for every fixture and for cards with every kind of
    suggestion."""
    today = date(2026, 11, 1)
    requests = [(warm_up_request(today), "opioid-order-sign")]
    for path in list_fixtures():
        request, expectation = load_fixture(path, today)
        requests.append((request, _SERVICE_FOR_HOOK[expectation.hook]))
    card_count = 0
    for request, service_id in requests:
        outcome = _outcome(request, service_id, today, language)
        sent = orjson.loads(outcome.body_json)
        assert sent == CdsResponse(cards=outcome.evaluation.cards).to_json_dict()
        card_count += len(sent["cards"])
    assert card_count >= 40  # most fixtures fire cards; with update and referral suggestions
