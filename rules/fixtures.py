"""FHIR fixtures: complete CDS Hooks requests with the rule ids they must (not) fire.

`fhir_fixtures/<name>.json` is a request body as an EHR would send it; next to it,
`<name>.expect.yaml` says which service it is for and which rules must and must not fire.
The requests are written with real dates around the anchor day 2026-11-01 ("today" in the
fixture). `load_fixture()` moves every date and dateTime by (today − anchor), so a fixture
tells the same clinical story on any day the tests run.

The files are package data of `fhir_fixtures`: in a checkout `FIXTURES_DIR` is that top-level
folder, in an installed wheel (or the image) the package's folder in site-packages.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from rules.hooks import SPEC_BY_SERVICE, ServiceId

__all__ = [
    "ANCHOR_DATE",
    "FIXTURES_DIR",
    "Expectation",
    "list_fixtures",
    "load_expectation",
    "load_fixture",
    "shift_dates",
]

ANCHOR_DATE = date(2026, 11, 1)


def _fixtures_dir() -> Path:
    folder = resources.files("fhir_fixtures")
    # A checkout, an editable install and a wheel installed in site-packages all keep the
    # package as a folder on disk. Anything else is a zipped import, or, with an editable
    # install, a folder fhir_fixtures/ without __init__.py in the current directory.
    if not isinstance(folder, Path):
        raise RuntimeError(
            f"fhir_fixtures is {folder}, not the package's folder; is a fhir_fixtures/ folder "
            "in the current directory shadowing it?"
        )
    return folder


FIXTURES_DIR = _fixtures_dir()

_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(T[0-9:.]+(?:Z|[+-]\d{2}:\d{2})?)?$")


class Expectation(BaseModel):
    """The sidecar `<name>.expect.yaml` of a fixture."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: ServiceId
    description: Annotated[str, Field(min_length=1)]
    must_fire: list[str] = Field(default_factory=list)
    must_not_fire: list[str] = Field(default_factory=list)
    language: Literal["nl", "en"] = "nl"

    @property
    def hook(self) -> str:
        return SPEC_BY_SERVICE[self.service].hook


def _shift_value(value: str, delta: timedelta) -> str:
    match = _DATE.match(value)
    if match is None:
        return value
    day = date.fromisoformat(match.group(1)) + delta
    return day.isoformat() + (match.group(2) or "")


def shift_dates(value: Any, delta: timedelta) -> Any:
    """A copy of `value` with every FHIR date/dateTime string (YYYY-MM-DD…) moved by `delta`."""
    if isinstance(value, dict):
        return {key: shift_dates(item, delta) for key, item in value.items()}
    if isinstance(value, list):
        return [shift_dates(item, delta) for item in value]
    if isinstance(value, str) and delta:
        return _shift_value(value, delta)
    return value


def list_fixtures(directory: Path | None = None) -> list[Path]:
    """All fixture request files (`*.json` with a sidecar), sorted by name."""
    root = directory or FIXTURES_DIR
    return sorted(path for path in root.glob("*.json") if path.with_suffix(".expect.yaml").exists())


def load_expectation(path: Path) -> Expectation:
    """The sidecar of the fixture at `path`, without reading the request itself."""
    return Expectation.model_validate(
        yaml.safe_load(Path(path).with_suffix(".expect.yaml").read_text(encoding="utf-8"))
    )


def load_fixture(path: Path, today: date | None = None) -> tuple[dict[str, Any], Expectation]:
    """The request (dates moved so that the anchor day is `today`) and its expectation."""
    path = Path(path)
    request = json.loads(path.read_text(encoding="utf-8"))
    expectation = load_expectation(path)
    target = today if today is not None else datetime.now().date()
    shifted: dict[str, Any] = shift_dates(request, target - ANCHOR_DATE)
    return shifted, expectation
