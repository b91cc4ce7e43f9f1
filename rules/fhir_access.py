"""Defensive accessors over orjson-parsed FHIR JSON.

Real clients send resources that are not strictly valid R4 (single objects where R4 has
arrays, missing fields, strings where numbers belong). Every helper here accepts ``object``
and returns a well-typed value or an empty/None result; none of them raises.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from datetime import date
from typing import Any

__all__ = [
    "as_dict",
    "as_int",
    "as_list",
    "as_number",
    "as_str",
    "codings",
    "concept_text",
    "dicts",
    "extensions",
    "parse_date",
    "reference_of",
]

JsonDict = Mapping[str, Any]
_EMPTY: dict[str, Any] = {}


def as_dict(value: object) -> JsonDict:
    """The value if it is a JSON object, else an empty mapping."""
    return value if isinstance(value, Mapping) else _EMPTY


def as_list(value: object) -> Sequence[object]:
    """A JSON array as is; a single object wrapped in a list; nothing → empty list."""
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        return value
    return (value,)


def dicts(value: object) -> Iterator[JsonDict]:
    """The JSON objects among ``as_list(value)`` (other items are skipped)."""
    for item in as_list(value):
        if isinstance(item, Mapping):
            yield item


def as_str(value: object) -> str | None:
    """A non-empty stripped string; numbers are accepted as their text (codes like 57614)."""
    if isinstance(value, str):
        stripped = value.strip()
        return stripped or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def as_number(value: object) -> float | None:
    """A finite number; numeric strings are accepted (``"10"``), booleans are not."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip().replace(",", "."))
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def as_int(value: object) -> int | None:
    number = as_number(value)
    if number is None or abs(number) > 1e9:
        return None
    return int(number)


def parse_date(value: object) -> date | None:
    """Calendar date of a FHIR date/dateTime/instant (``YYYY``, ``YYYY-MM`` → first day)."""
    text = as_str(value)
    if text is None or len(text) < 4:
        return None
    try:
        year = int(text[0:4])
        month = int(text[5:7]) if len(text) >= 7 and text[4] == "-" else 1
        day = int(text[8:10]) if len(text) >= 10 and text[7] == "-" else 1
        return date(year, month, day)
    except ValueError:
        return None


def codings(concept: object) -> Iterator[tuple[str, str, str | None]]:
    """(system, code, display) of a CodeableConcept (or a bare Coding, or a list of either)."""
    for item in dicts(concept):
        coding_list = item.get("coding")
        # A bare Coding (system/code at top level) is accepted too.
        candidates = dicts(coding_list) if coding_list is not None else iter((item,))
        for coding in candidates:
            system = as_str(coding.get("system"))
            code = as_str(coding.get("code"))
            if system and code:
                yield system, code, as_str(coding.get("display"))


def concept_text(concept: object) -> list[str]:
    """Every human text in a CodeableConcept: ``text`` and the codings' displays."""
    texts: list[str] = []
    for item in dicts(concept):
        text = as_str(item.get("text"))
        if text:
            texts.append(text)
        display = as_str(item.get("display"))
        if display:
            texts.append(display)
        for coding in dicts(item.get("coding")):
            shown = as_str(coding.get("display"))
            if shown:
                texts.append(shown)
    return texts


def extensions(element: object, url: str) -> Iterator[JsonDict]:
    """Extensions (and modifierExtensions) of an element with the given URL."""
    node = as_dict(element)
    for key in ("extension", "modifierExtension"):
        for extension in dicts(node.get(key)):
            if extension.get("url") == url:
                yield extension


def reference_of(value: object) -> str | None:
    """``Reference.reference`` as a string (None for a display-only/identifier reference)."""
    return as_str(as_dict(value).get("reference"))
