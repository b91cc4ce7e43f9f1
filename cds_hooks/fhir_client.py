"""A small async FHIR R4 client for the CDS client's `fhirServer` (reads and searches only).

    client = FhirClient(request.fhir_server, token, http=app.state.http_client,
                        timeout_seconds=1.5)
    orders = await client.search("MedicationRequest?patient=123&_count=100")
    medication = await client.read("Medication", "abc")   # None when the server says 404

Guarantees:
- Every HTTP call is bounded by `timeout_seconds` of wall time (connect + send + every byte
  of the answer), and by `max_response_bytes`.
- `Authorization: Bearer <token>` is sent only when a token was given, only to the origin and
  base path of `fhirServer` (a `next` link elsewhere is not followed), and redirects are never
  followed. The token appears in no log line, exception message or `repr`.
- What comes back must be FHIR JSON: a resource of the requested type for a read, a Bundle for
  a search. Anything else (HTML, truncated JSON, a JSON array, a 200 OperationOutcome) raises
  `FhirServerError`, as do 5xx, 4xx other than 404/410 on a read, timeouts and connection
  errors. Messages name the resource type and status, never the query (it holds patient ids).
- Searches follow `next` links up to `max_pages` pages / `max_entries` resources; what lies
  beyond is left out (logged as a warning).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import orjson

from cds_hooks.errors import FhirServerError

__all__ = [
    "DEFAULT_MAX_ENTRIES",
    "DEFAULT_MAX_PAGES",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "FhirClient",
    "bundle_resources",
    "has_error_outcome",
    "is_operation_outcome",
    "next_link",
    "split_reference",
]

logger = logging.getLogger(__name__)

DEFAULT_MAX_PAGES = 10
DEFAULT_MAX_ENTRIES = 1000
DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024

_RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]{1,63}")
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_NOT_FOUND = frozenset({404, 410})

Resource = dict[str, Any]


# --- FHIR JSON helpers (also used by prefetch resolution) ----------------------------------


def is_operation_outcome(value: object) -> bool:
    # `type(...) is dict` first: parsed JSON is plain dicts, and an ABC check is slow.
    if type(value) is not dict and not isinstance(value, Mapping):
        return False
    return value.get("resourceType") == "OperationOutcome"


def has_error_outcome(value: object) -> bool:
    """True for an OperationOutcome unless all its issues are warnings or information (an
    unreadable or unknown severity counts as an error)."""
    if not is_operation_outcome(value):
        return False
    assert isinstance(value, Mapping)
    issues = value.get("issue")
    if not isinstance(issues, list) or not issues:
        return True
    return not all(
        isinstance(issue, Mapping) and issue.get("severity") in ("warning", "information")
        for issue in issues
    )


def bundle_resources(bundle: Mapping[str, Any]) -> tuple[list[Resource], bool]:
    """The resources of a Bundle's entries, without OperationOutcomes.

    Returns (resources, failed): `failed` is True when an entry is an OperationOutcome with an
    error (a server reporting that the search did not work). Entries without a resource are
    skipped; `Bundle.type` is not required (the sandbox leaves it out).
    """
    entries = bundle.get("entry")
    if entries is None:
        return [], False
    if not isinstance(entries, list):
        return [], True
    resources: list[Resource] = []
    failed = False
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        resource = entry.get("resource")
        if not isinstance(resource, dict):
            continue
        kind = resource.get("resourceType")
        if type(kind) is not str:
            continue
        if kind == "OperationOutcome":
            failed = failed or has_error_outcome(resource)
            continue
        resources.append(resource)
    return resources, failed


def next_link(bundle: Mapping[str, Any]) -> str | None:
    links = bundle.get("link")
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, Mapping) and link.get("relation") == "next":
            url = link.get("url")
            if isinstance(url, str) and url:
                return url
    return None


# --- the client ------------------------------------------------------------------------------


def _origin(url: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) of an absolute http(s) URL; None for anything else (including
    URLs that `urllib` cannot parse, such as a port that is not a number)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


class FhirClient:
    """Reads and searches on one FHIR server with an optional bearer token."""

    __slots__ = (
        "_base_path",
        "_headers",
        "_http",
        "_origin",
        "_usable",
        "base_url",
        "cut_off",
        "max_entries",
        "max_pages",
        "max_response_bytes",
        "timeout_seconds",
    )

    def __init__(
        self,
        base_url: str,
        access_token: str | None,
        http: httpx.AsyncClient,
        timeout_seconds: float,
        *,
        max_pages: int = DEFAULT_MAX_PAGES,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        # An unusable fhirServer (not an absolute http(s) URL) is not an error here: every
        # call then fails with FhirServerError, exactly like a server that is down.
        self._origin = _origin(base_url)
        self._usable = self._origin is not None
        self.base_url = base_url.rstrip("/")
        self._base_path = urlsplit(base_url).path.rstrip("/") if self._usable else ""
        self._http = http
        self.timeout_seconds = timeout_seconds
        self.max_pages = max_pages
        self.max_entries = max_entries
        self.max_response_bytes = max_response_bytes
        self.cut_off: set[str] = set()
        """Resource types of the searches whose paging stopped short (a bound reached, or an
        off-origin `next` link): the history they gave is incomplete."""
        headers = {"Accept": "application/fhir+json, application/json;q=0.9"}
        if access_token:
            headers["Authorization"] = f"Bearer {access_token}"
        self._headers = headers

    def __repr__(self) -> str:
        token = "set" if "Authorization" in self._headers else "none"
        return f"FhirClient(base_url={self.base_url!r}, token={token})"

    __str__ = __repr__

    # public API

    async def read(self, resource_type: str, resource_id: str) -> Resource | None:
        """`GET [base]/type/id`. None when the server answers 404/410, or when the type or id
        is not a syntactically valid FHIR type/id (such a resource cannot exist)."""
        if not _RESOURCE_TYPE.fullmatch(resource_type) or not _FHIR_ID.fullmatch(resource_id):
            return None
        body = await self._get(f"{self.base_url}/{resource_type}/{resource_id}", resource_type)
        if body is None:
            return None
        if body.get("resourceType") != resource_type:
            raise FhirServerError(
                f"FHIR read of {resource_type}: the server answered "
                f"{_describe(body)} instead of a {resource_type}"
            )
        return body

    async def search(self, relative_query: str) -> list[Resource]:
        """`GET [base]/relative_query`, following `next` links (bounded). OperationOutcome
        entries are dropped; one with an error makes the search fail."""
        label = relative_query.split("?", 1)[0].split("/", 1)[0] or "search"
        bundle = await self._get_bundle(f"{self.base_url}/{relative_query.lstrip('/')}", label)
        resources, failed = bundle_resources(bundle)
        if failed:
            raise FhirServerError(f"FHIR search of {label}: the server reported an error")
        return await self._follow(bundle, resources, label, pages=1)

    async def continue_search(self, bundle: Mapping[str, Any], *, have: int = 0) -> list[Resource]:
        """The resources of the pages after `bundle` (one already in hand, e.g. prefetched),
        following its `next` links within the same bounds as `search` (counting `bundle` as
        one page holding `have` resources)."""
        return await self._follow(bundle, [], "continued search", pages=1, already=have)

    def same_server(self, url: str) -> bool:
        """True when `url` lies on fhirServer's origin and under its base path."""
        if not self._usable or _origin(url) != self._origin:
            return False
        path = urlsplit(url).path.rstrip("/")
        return path == self._base_path or path.startswith(self._base_path + "/")

    def local_reference(self, reference: str) -> tuple[str, str] | None:
        """(type, id) for `Type/id`, or for an absolute URL on this server; else None."""
        if "://" in reference:
            if not self.same_server(reference):
                return None
            reference = urlsplit(reference).path[len(self._base_path) :].lstrip("/")
        return split_reference(reference)

    # internals

    async def _follow(
        self,
        bundle: Mapping[str, Any],
        resources: list[Resource],
        label: str,
        *,
        pages: int,
        already: int = 0,
    ) -> list[Resource]:
        url = next_link(bundle)
        while url is not None:
            if pages >= self.max_pages or already + len(resources) >= self.max_entries:
                logger.warning(
                    "FHIR search of %s truncated after %d pages / %d resources",
                    label,
                    pages,
                    already + len(resources),
                )
                self.cut_off.add(_search_kind(label, bundle))
                break
            try:
                absolute = urljoin(self.base_url + "/", url)
            except ValueError:
                absolute = ""
            if not self.same_server(absolute):
                logger.warning(
                    "FHIR search of %s: next link leaves fhirServer, not followed", label
                )
                self.cut_off.add(_search_kind(label, bundle))
                break
            page = await self._get_bundle(absolute, label)
            page_resources, failed = bundle_resources(page)
            if failed:
                raise FhirServerError(f"FHIR search of {label}: the server reported an error")
            resources.extend(page_resources)
            pages += 1
            url = next_link(page)
        room = max(self.max_entries - already, 0)
        return resources[:room]

    async def _get_bundle(self, url: str, label: str) -> Mapping[str, Any]:
        body = await self._get(url, label, not_found_is_none=False)
        assert body is not None
        if body.get("resourceType") != "Bundle":
            raise FhirServerError(
                f"FHIR search of {label}: the server answered {_describe(body)}, not a Bundle"
            )
        return body

    async def _get(
        self, url: str, label: str, *, not_found_is_none: bool = True
    ) -> dict[str, Any] | None:
        if not self._usable:
            raise FhirServerError("fhirServer is not an absolute http(s) URL")
        try:
            async with asyncio.timeout(self.timeout_seconds):
                status, content = await self._fetch(url)
        except TimeoutError:
            raise FhirServerError(
                f"FHIR request for {label} timed out after {self.timeout_seconds:g} s"
            ) from None
        except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
            raise FhirServerError(
                f"FHIR request for {label} failed: {type(exc).__name__}"
            ) from None
        if status in _NOT_FOUND and not_found_is_none:
            return None
        if status != 200:
            raise FhirServerError(f"FHIR request for {label}: HTTP {status}")
        try:
            body = orjson.loads(content)
        except orjson.JSONDecodeError:
            raise FhirServerError(f"FHIR request for {label}: the answer is not JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("resourceType"), str):
            raise FhirServerError(f"FHIR request for {label}: the answer is not a FHIR resource")
        if is_operation_outcome(body):
            raise FhirServerError(f"FHIR request for {label}: the server sent an OperationOutcome")
        return body

    async def _fetch(self, url: str) -> tuple[int, bytes]:
        timeout = httpx.Timeout(self.timeout_seconds)
        async with self._http.stream(
            "GET", url, headers=self._headers, timeout=timeout, follow_redirects=False
        ) as response:
            if response.status_code != 200:
                return response.status_code, b""
            declared = response.headers.get("content-length")
            if (
                declared is not None
                and declared.isdigit()
                and int(declared) > self.max_response_bytes
            ):
                raise FhirServerError("FHIR answer larger than the allowed size")
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > self.max_response_bytes:
                    raise FhirServerError("FHIR answer larger than the allowed size")
                chunks.append(chunk)
            return response.status_code, b"".join(chunks)


def split_reference(reference: str) -> tuple[str, str] | None:
    """(type, id) of a relative `Type/id` reference (a `/_history/n` suffix is ignored)."""
    parts = reference.split("/")
    if len(parts) == 4 and parts[2] == "_history":
        parts = parts[:2]
    if len(parts) != 2:
        return None
    resource_type, resource_id = parts
    if _RESOURCE_TYPE.fullmatch(resource_type) and _FHIR_ID.fullmatch(resource_id):
        return resource_type, resource_id
    return None


def _describe(body: Mapping[str, Any]) -> str:
    kind = body.get("resourceType")
    return f"a {kind}" if isinstance(kind, str) and _RESOURCE_TYPE.fullmatch(kind) else "JSON"


def _search_kind(label: str, bundle: Mapping[str, Any]) -> str:
    """The resource type a search asked for (its query's path), else that of its first entry;
    never the query's parameters (they name the patient)."""
    path, has_query, _ = label.partition("?")
    if has_query and path:
        return path.rsplit("/", 1)[-1]
    for resource in bundle_resources(bundle)[0]:
        kind = resource.get("resourceType")
        if isinstance(kind, str):
            return kind
    return "search"
