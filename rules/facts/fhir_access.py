"""Defensive accessors over orjson-parsed FHIR JSON.

Real clients send resources that are not strictly valid R4 (single objects where R4 has
arrays, missing fields, strings where numbers belong). Every helper here accepts ``object``
and returns a well-typed value or an empty/None result; none of them raises.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any, Final, TypeGuard

__all__ = [
    "MAX_NESTING",
    "as_dict",
    "as_int",
    "as_list",
    "as_number",
    "as_str",
    "codings",
    "concept_text",
    "dicts",
    "extension_map",
    "extensions",
    "fields_of",
    "is_object",
    "nested_deeper_than",
    "parse_date",
    "reference_of",
]

JsonDict = Mapping[str, Any]
_EMPTY: dict[str, Any] = {}
_INT_LIMIT = 10**300  # beyond this float() overflows
_SMALL_INT: Final = 2**53
_DATE_FROM_ISO: Final = date.fromisoformat  # compiled, a Final is a static: no look-up a call
MAX_NESTING = 100
"""Deepest JSON nesting of a draft that is read and copied (a real MedicationRequest is about
a dozen levels deep; copy.deepcopy exhausts the stack at a few hundred)."""


# orjson yields plain dict/list/str: the ``type(x) is`` checks are the fast path, the
# ``isinstance`` checks (slow ABC machinery) only run for other mappings/sequences.


def as_dict(value: object) -> JsonDict:
    """The value if it is a JSON object, else an empty mapping."""
    if type(value) is dict:
        return value
    if value is None or type(value) in (str, int, float, bool, list):
        return _EMPTY  # the common non-objects, without the slow ABC check below
    return value if isinstance(value, Mapping) else _EMPTY


def fields_of(value: object) -> dict[str, Any]:
    """A JSON object's fields as a dict: the object itself when it is one (orjson makes no
    other), a copy of another mapping, else none. Compiled, a dict's `get` is a direct call, a
    Mapping's a method looked up by its name. Read it, never write to it."""
    if type(value) is dict:
        return value
    return dict(value) if is_object(value) else {}


def is_object(value: object) -> TypeGuard[JsonDict]:
    """A JSON object (fast for the plain dicts orjson produces)."""
    if type(value) is dict:
        return True
    return value is not None and type(value) not in (str, list) and isinstance(value, Mapping)


def as_list(value: object) -> Sequence[object]:
    """A JSON array as is; a single object wrapped in a list; nothing → empty list."""
    if type(value) is list:
        return value
    if value is None:
        return ()
    if isinstance(value, list | tuple):
        return value
    return (value,)


def dicts(value: object) -> list[JsonDict]:
    """The JSON objects among ``as_list(value)`` (other items are skipped).

    This and the helpers below return lists, not generators: compiled (mypyc), a short list
    is cheaper to build than a generator is to set up, and they run many times a call."""
    if value is None:
        return []
    if type(value) is dict:
        return [value]
    return [item for item in as_list(value) if type(item) is dict or isinstance(item, Mapping)]


def as_str(value: object) -> str | None:
    """A non-empty stripped string; numbers are accepted as their text (codes like 57614)."""
    if type(value) is str:
        # Compiled, strip() is a direct call that returns the string itself when there is
        # nothing to strip (FHIR strings carry no outer whitespace).
        stripped = value.strip()
        return stripped if stripped else None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def as_number(value: object) -> float | None:
    """A finite number; numeric strings are accepted (``"10"``), booleans are not."""
    # The common case first; compiled, comparing with a small bound is cheap, with the big
    # one below is not.
    if type(value) is int and -_SMALL_INT < value < _SMALL_INT:
        return float(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, int):
        return float(value) if -_INT_LIMIT < value < _INT_LIMIT else None
    if isinstance(value, str):
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


def nested_deeper_than(value: object, limit: int) -> bool:
    """Whether JSON `value` nests dicts/lists more than `limit` levels deep (iterative: never a
    RecursionError, however deep)."""
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            children: Iterable[object] = node.values() if isinstance(node, dict) else node
        elif isinstance(node, Mapping):
            children = list(node.values())
        else:
            continue
        if depth >= limit:
            return True
        for child in children:
            # Only what can nest is visited: a scalar leaf never costs the Mapping check.
            if not isinstance(child, (str, int, float)) and child is not None:
                stack.append((child, depth + 1))
    return False


def parse_date(value: object) -> date | None:
    """Calendar date of a FHIR date/dateTime/instant (``YYYY``, ``YYYY-MM`` → first day)."""
    text = as_str(value)
    if text is None or len(text) < 4 or text.startswith("9999"):
        # 9999-12-31 is "no end" in many systems, never a real day: as a start it cannot be
        # read, as an end it means no end (and no date arithmetic overflows on it).
        return None
    if len(text) >= 10 and text[4] == "-" and text[7] == "-":
        try:
            return _DATE_FROM_ISO(text[:10])  # the common case, in C; it checks the digits
        except ValueError:
            pass
    if not text[:4].isdigit() or (len(text) > 4 and text[4] != "-"):
        return None  # no year, or one of five digits or more: beyond 9999
    try:
        year = int(text[0:4])
        month = int(text[5:7]) if len(text) >= 7 and text[4] == "-" else 1
        day = int(text[8:10]) if len(text) >= 10 and text[7] == "-" else 1
        return date(year, month, day)
    except ValueError:
        return None


def codings(concept: object) -> list[tuple[str, str, str | None]]:
    """(system, code, display) of a CodeableConcept (or a bare Coding, or a list of either)."""
    found: list[tuple[str, str, str | None]] = []
    for item in dicts(concept):
        coding_list = item.get("coding")
        # A bare Coding (system/code at top level) is accepted too.
        candidates = dicts(coding_list) if coding_list is not None else [item]
        for coding in candidates:
            system = as_str(coding.get("system"))
            code = as_str(coding.get("code"))
            if system and code:
                found.append((system, code, as_str(coding.get("display"))))
    return found


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


def extensions(element: object, url: str) -> list[JsonDict]:
    """Extensions (and modifierExtensions) of an element with the given URL."""
    node = as_dict(element)
    if "extension" not in node and "modifierExtension" not in node:
        return []
    return [
        extension
        for key in ("extension", "modifierExtension")
        for extension in dicts(node.get(key))
        if extension.get("url") == url
    ]


def extension_map(element: object) -> dict[str, JsonDict]:
    """The first extension (or modifierExtension) per URL: one pass for several look-ups."""
    node = as_dict(element)
    found: dict[str, JsonDict] = {}
    if "extension" not in node and "modifierExtension" not in node:
        return found
    for key in ("extension", "modifierExtension"):
        for extension in dicts(node.get(key)):
            url = extension.get("url")
            if type(url) is str and url not in found:
                found[url] = extension
    return found


def reference_of(value: object) -> str | None:
    """``Reference.reference`` as a string (None for a display-only/identifier reference)."""
    return as_str(as_dict(value).get("reference"))
