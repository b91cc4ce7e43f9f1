"""The small value helpers every response goes through: uuids, empty-value removal, JSON values."""

from __future__ import annotations

import uuid
from datetime import date
from enum import Enum
from typing import Any

from cds_hooks.models import drop_empty, new_uuid
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
