"""What every response goes through: card uuids, the one empty-value rule, JSON values, and
the one serialiser (the CDS Hooks models)."""

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
from cds_hooks.models import Action, Card, CdsResponse, Source, Suggestion, json_value
from rules.fixtures import list_fixtures, load_fixture
from rules.language import SUPPORTED_LANGUAGES, Language


def test_card_and_suggestion_uuids_are_random_rfc4122_version_4_uuids() -> None:
    source = Source(label="x")
    values = [Suggestion(label="x").uuid for _ in range(1000)]
    values += [Card(summary="x", indicator="info", source=source).uuid for _ in range(1000)]
    assert len(set(values)) == len(values)
    for value in values:
        parsed = uuid.UUID(value)
        assert str(parsed) == value  # canonical lower-case 8-4-4-4-12 form
        assert parsed.version == 4
        assert parsed.variant == uuid.RFC_4122


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
        "gone": {"a": {"b": None}},
    }
    assert json_value(value) == {
        "1": "2026-11-01",
        "colour": "red",
        "set": ["a", "b"],
        "tuple": [1, [2, 3]],
        "plain": ["x", 1.5, True, 0, False],
    }


def test_the_models_leave_out_empty_values_but_always_send_cards() -> None:
    card = Card(
        summary="s",
        detail="",
        indicator="info",
        source=Source(label="x", url=None),
        suggestions=[],
        links=[],
        extension={"k": {"facts": {"none": None, "zero": 0}, "notes": {}}},
    )
    assert orjson.loads(card.to_json()) == {
        "uuid": card.uuid,
        "summary": "s",
        "indicator": "info",
        "source": {"label": "x"},
        "extension": {"k": {"facts": {"zero": 0}}},
    }
    assert CdsResponse().to_json() == b'{"cards":[]}'


def test_what_orjson_cannot_write_is_written_by_pydantic_as_before() -> None:
    action = Action(type="create", description="d", resource={"value": 2**70, "n": {1: "x"}})
    suggestion = Suggestion(label="x", actions=[action])
    assert suggestion.to_json() == suggestion.__pydantic_serializer__.to_json(
        suggestion, by_alias=True
    )
    assert orjson.loads(suggestion.to_json())["actions"][0]["resource"]["value"] == 2**70


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
def test_the_json_sent_is_valid_cds_hooks_that_the_models_read_back_unchanged(
    language: Language,
) -> None:
    """For every fixture and cards with every kind of suggestion: the JSON sent, read by the
    models, serialises to exactly itself (wire names, no null, no empty arrays or objects)."""
    today = date(2026, 11, 1)
    requests = [(warm_up_request(today), "opioid-order-sign")]
    for path in list_fixtures():
        request, expectation = load_fixture(path, today)
        requests.append((request, _SERVICE_FOR_HOOK[expectation.hook]))
    card_count = 0
    for request, service_id in requests:
        outcome = _outcome(request, service_id, today, language)
        sent = orjson.loads(outcome.body_json)
        assert orjson.loads(CdsResponse.model_validate(sent).to_json()) == sent
        # to_json writes with orjson what pydantic's own serialiser would, byte for byte.
        response = CdsResponse(cards=outcome.evaluation.cards)
        assert outcome.body_json == response.__pydantic_serializer__.to_json(
            response, by_alias=True
        )
        assert sent["cards"] == [card.to_json_dict() for card in outcome.evaluation.cards]
        card_count += len(sent["cards"])
    assert card_count >= 40  # most fixtures fire cards; with update and referral suggestions
