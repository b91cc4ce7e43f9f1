"""Card language from the request's `Accept-Language` header (RFC 9110 §12.5.4)."""

from __future__ import annotations

__all__ = ["SUPPORTED_LANGUAGES", "preferred_language"]

SUPPORTED_LANGUAGES: tuple[str, ...] = ("nl", "en")


def preferred_language(accept_language_header: str | None, default: str = "nl") -> str:
    """The supported language the client prefers most; `default` when it names none of them.

    `en-GB,en;q=0.9,nl;q=0.8` → `en`; `nl-NL,en;q=0.5` → `nl`; `fr` → default; `*` → default.
    Ties keep the header's order. Malformed entries are skipped, never an error.
    """
    if not accept_language_header:
        return default
    best: tuple[float, int, str] | None = None
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
        primary = tag.split("-")[0]
        if primary not in SUPPORTED_LANGUAGES:
            continue
        candidate = (quality, -position, primary)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    return best[2] if best is not None else default
