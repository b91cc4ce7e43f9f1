"""The small value helpers every response goes through: uuids, empty-value removal, JSON values."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from enum import Enum
from typing import Any

import orjson

from app.evaluation import load_evaluator
from app.pipeline import evaluate_hook_request
from app.services import SERVICES
from app.settings import Settings
from app.warmup import warm_up_request
from cds_hooks.models import CdsResponse, drop_empty, new_uuid
from rules.render import jsonable


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


def test_jsonable_turns_dates_enums_sets_and_tuples_into_json_values() -> None:
    value = {
        1: date(2026, 11, 1),
        "colour": _Colour.RED,
        "set": frozenset({"b", "a"}),
        "tuple": (1, (2, 3)),
        "plain": ["x", 1.5, None, True],
    }
    assert jsonable(value) == {
        "1": "2026-11-01",
        "colour": "red",
        "set": ["a", "b"],
        "tuple": [1, [2, 3]],
        "plain": ["x", 1.5, None, True],
    }


def test_an_answer_without_cards_still_sends_the_empty_cards_array() -> None:
    assert orjson.loads(CdsResponse().to_json_bytes()) == {"cards": []}


def test_the_bytes_sent_are_the_json_of_the_response_dict() -> None:
    """The service sends `to_json_bytes`; the checks of the wire format (no null, no empty
    arrays or objects) are written against `to_json_dict`. Both must say the same."""
    today = date(2026, 11, 1)
    outcome = asyncio.run(
        evaluate_hook_request(
            warm_up_request(today),
            service=SERVICES["opioid-order-sign"],
            evaluator=load_evaluator(Settings()),
            fhir_client_for=lambda _request: None,
            deadline_seconds=1.0,
            language="nl",
            today=today,
        )
    )
    response = CdsResponse(cards=outcome.evaluation.cards)
    assert len(response.cards) >= 5  # cards with update and referral suggestions among them
    assert orjson.loads(response.to_json_bytes()) == response.to_json_dict()
