"""FHIR server URLs in one normal form: what is checked is exactly what is fetched.

`fhirServer` and `next` links come from the CDS client. Compared as strings,
`http://host/ok/../e500` lies under `http://host/ok`, yet httpx resolves the dot segments and
asks `/e500` (with the bearer token). So a URL is first put in normal form, as RFC 3986 §6.2.2
describes: scheme and host in lower case, the default port left out, percent-encoded
unreserved characters decoded (`%2e` is a dot), empty segments (`//`) dropped, dot segments
resolved. Allowlists compare that form, and the FHIR client sends it. A URL with user info, or
whose path encodes a slash or backslash (`%2f`, `%5c`, `\\`), is refused: servers disagree on
what it names.

    normalise("HTTP://Host:80/ok/%2E%2e//e500/")  ->  http://host/e500
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["ServerUrl", "normalise"]

DEFAULT_PORTS = {"http": 80, "https": 443}
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_AMBIGUOUS = ("%2f", "%5c", "\\")


@dataclass(frozen=True, slots=True)
class ServerUrl:
    scheme: str
    host: str
    port: int
    path: str
    """Normalised, without a trailing slash: "" for the root."""
    query: str = ""

    @property
    def origin(self) -> tuple[str, str, int]:
        return self.scheme, self.host, self.port

    def within(self, base: ServerUrl) -> bool:
        """Same origin, and the path is `base`'s or lies under it (on a `/` boundary)."""
        return self.origin == base.origin and (
            self.path == base.path or self.path.startswith(base.path + "/")
        )

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if DEFAULT_PORTS[self.scheme] == self.port else f":{self.port}"
        query = f"?{self.query}" if self.query else ""
        return f"{self.scheme}://{host}{port}{self.path}{query}"


def normalise(url: str) -> ServerUrl | None:
    """The normal form of an absolute http(s) URL (the fragment dropped); None when it is
    not one, has user info, or its path is ambiguous."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or "@" in parts.netloc:
        return None
    path = _PERCENT.sub(_decode_unreserved, parts.path)
    if any(marker in path.lower() for marker in _AMBIGUOUS):
        return None
    return ServerUrl(
        scheme=scheme,
        host=parts.hostname.lower(),
        port=port or DEFAULT_PORTS[scheme],
        path=_resolved(path),
        query=parts.query,
    )


def _decode_unreserved(match: re.Match[str]) -> str:
    character = chr(int(match.group(1), 16))
    return character if character in _UNRESERVED else match.group(0).upper()


def _resolved(path: str) -> str:
    """The path without empty and dot segments (`..` never climbs above the root)."""
    segments: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    return "".join(f"/{segment}" for segment in segments)
