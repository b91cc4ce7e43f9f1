"""The languages the rule set's texts are written in, and the one a caller gets.

The language is decided once, where a request comes in (`preferred_language` on the
`Accept-Language` header, RFC 9110 §12.5.4); everything after receives a `Language`.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

__all__ = ["DEFAULT_LANGUAGE", "SUPPORTED_LANGUAGES", "Language", "preferred_language"]

Language = Literal["nl", "en"]
SUPPORTED_LANGUAGES: Final[tuple[Language, ...]] = get_args(Language)
DEFAULT_LANGUAGE: Final[Language] = "nl"


def preferred_language(
    accept_language_header: str | None, default: Language = DEFAULT_LANGUAGE
) -> Language:
    """The supported language the client prefers most; `default` when it names none of them.

    `en-GB,en;q=0.9,nl;q=0.8` → `en`; `nl-NL,en;q=0.5` → `nl`; `fr` → default; `*` → default.
    Ties keep the header's order. Malformed entries are skipped, never an error.
    """
    if not accept_language_header:
        return default
    best: tuple[float, int, Language] | None = None
    for position, entry in enumerate(accept_language_header.split(",")):
        parts = [part.strip() for part in entry.split(";")]
        tag = parts[0].lower()
        quality = 1.0
        for parameter in parts[1:]:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = -1.0
        if quality <= 0 or not tag:
            continue
        primary = _supported(tag.split("-")[0])
        if primary is None:
            continue
        candidate = (quality, -position, primary)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    return best[2] if best is not None else default


def _supported(tag: str) -> Language | None:
    for language in SUPPORTED_LANGUAGES:
        if tag == language:
            return language
    return None
