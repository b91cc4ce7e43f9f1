"""The integrator toolkit's view of the FHIR fixtures, shared by the playground and the CLI.

The fixtures themselves (`fhir_fixtures/<name>.json` + `<name>.expect.yaml`) and their loader
belong to the rules work (`rules.fixtures`); this module only adapts them to what the
playground page and `opioid-cds fixtures` show: a name, the service to call, a description and
the rule ids that must (not) fire. Requests come back with their dates shifted to `today`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

from rules.cards.render import RULE_TOPIC_SYSTEM
from rules.fixtures import Expectation, list_fixtures, load_expectation, load_fixture

__all__ = [
    "FixtureInfo",
    "FixtureNotFound",
    "fixture_infos",
    "load_fixture_request",
    "rule_ids_of",
    "static_file",
]


class FixtureNotFound(LookupError):
    """No fixture with that name."""


@dataclass(frozen=True)
class FixtureInfo:
    name: str
    path: Path
    service: str
    hook: str
    description: str
    must_fire: tuple[str, ...]
    must_not_fire: tuple[str, ...]
    language: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "service": self.service,
            "hook": self.hook,
            "description": self.description,
            "mustFire": list(self.must_fire),
            "mustNotFire": list(self.must_not_fire),
            "language": self.language,
        }


def _fixture_name(path: Path) -> str:
    return path.name.removesuffix(".json")


def _info(path: Path, expectation: Expectation) -> FixtureInfo:
    return FixtureInfo(
        name=_fixture_name(path),
        path=path,
        service=expectation.service,
        hook=expectation.hook,
        description=expectation.description,
        must_fire=tuple(expectation.must_fire),
        must_not_fire=tuple(expectation.must_not_fire),
        language=expectation.language,
    )


def fixture_infos() -> list[FixtureInfo]:
    """Every fixture, sorted by name (only the sidecars are read)."""
    return [_info(path, load_expectation(path)) for path in list_fixtures()]


def load_fixture_request(
    name: str, today: date | None = None
) -> tuple[dict[str, Any], FixtureInfo]:
    """The request of the fixture called `name` (dates relative to `today`) and its info."""
    for path in list_fixtures():
        if _fixture_name(path) == name:
            request, expectation = load_fixture(path, today=today)
            return request, _info(path, expectation)
    raise FixtureNotFound(name)


def rule_ids_of(response_body: Mapping[str, Any]) -> list[str]:
    """The rule id of each card (`source.topic.code` in the rule system), in card order."""
    ids = []
    for card in response_body.get("cards", []) or []:
        topic = (card.get("source") or {}).get("topic") or {}
        if topic.get("system") == RULE_TOPIC_SYSTEM and topic.get("code"):
            ids.append(str(topic["code"]))
    return ids


def static_file(name: str) -> bytes | None:
    """A file of the playground page shipped with the package, or None."""
    resource = resources.files(__name__).joinpath(name)
    if not resource.is_file():
        return None
    return resource.read_bytes()
