"""A small async FHIR R4 client for the CDS client's `fhirServer` (reads and searches only).

    client = FhirClient(request.fhir_server, token, http=app.state.http_client,
                        timeout_seconds=1.5)
    orders = await client.search("MedicationRequest?patient=123&_count=100")
    medication = await client.read("Medication", "abc")   # None when the server says 404

Guarantees:
- Every HTTP call is bounded by `timeout_seconds` of wall time (a slot of the origin's
  bulkhead, connect, send, every byte of the answer), and by `max_response_bytes`.
- With `limits` (`cds_hooks.bulkheads`), at most `limits.per_origin` calls are in flight to
  one origin, whoever makes them: a hanging server cannot take every connection.
- `Authorization: Bearer <token>` is sent only when a token was given, only to the origin and
  base path of `fhirServer` (a `next` link elsewhere is not followed), and redirects are never
  followed. URLs are compared and fetched in normal form (`cds_hooks.urls`), so a dot segment
  cannot lead the token out of the base path. The token appears in no log line, exception
  message or `repr`.
- What comes back must be FHIR JSON: a resource of the requested type for a read, a Bundle for
  a search. Anything else (HTML, truncated JSON, a JSON array, a 200 OperationOutcome) raises
  `FhirServerError`, as do 5xx, 4xx other than 404/410 on a read, timeouts and connection
  errors. Messages name the resource type and status, never the query (it holds patient ids).
- Searches follow `next` links up to `max_pages` pages / `max_entries` resources; what lies
  beyond is left out (logged as a warning).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin

import httpx
import orjson

from cds_hooks.bulkheads import OriginLimits
from cds_hooks.errors import FhirServerError
from cds_hooks.urls import ServerUrl, normalise

__all__ = [
    "DEFAULT_MAX_ENTRIES",
    "DEFAULT_MAX_PAGES",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "FhirClient",
    "bundle_resources",
    "has_error_outcome",
    "has_next",
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


def bundle_resources(bundle: Mapping[str, Any]) -> tuple[list[Resource], bool, int]:
    """The resources of a Bundle's entries, without OperationOutcomes.

    Returns (resources, failed, unread): `failed` is True when an entry is an OperationOutcome
    with an error (a server reporting that the search did not work); `unread` counts the
    entries that hold no resource that can be read (no JSON object, no resource, no
    `resourceType`, or a Bundle: a search's entries are its results, not Bundles of them), left
    out and to be reported, as what they held is not known. `Bundle.type` is not required
    (the sandbox leaves it out).
    """
    entries = bundle.get("entry")
    if entries is None:
        return [], False, 0
    if not isinstance(entries, list):
        return [], True, 0
    resources: list[Resource] = []
    failed = False
    unread = 0
    for entry in entries:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            unread += 1
            continue
        kind = resource.get("resourceType")
        if type(kind) is not str or kind == "Bundle":
            unread += 1
            continue
        if kind == "OperationOutcome":
            failed = failed or has_error_outcome(resource)
            continue
        resources.append(resource)
    return resources, failed, unread


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


def has_next(bundle: Mapping[str, Any]) -> bool:
    """Whether the Bundle links to a next page at all (with a URL that can be followed or not)."""
    links = bundle.get("link")
    if links is None:
        return False  # most Bundles: nothing to look through
    links = links if isinstance(links, list) else [links]
    return any(isinstance(link, Mapping) and link.get("relation") == "next" for link in links)


# --- the client ------------------------------------------------------------------------------


class FhirClient:
    """Reads and searches on one FHIR server with an optional bearer token."""

    __slots__ = (
        "_base",
        "_headers",
        "_http",
        "_limits",
        "base_url",
        "cut_off",
        "max_entries",
        "max_pages",
        "max_response_bytes",
        "timeout_seconds",
        "unreadable",
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
        limits: OriginLimits | None = None,
    ) -> None:
        # An unusable fhirServer (not an absolute http(s) URL, or one with a query) is not an
        # error here: every call then fails with FhirServerError, like a server that is down.
        base = normalise(base_url)
        self._base: ServerUrl | None = base if base is not None and not base.query else None
        self.base_url = str(self._base) if self._base is not None else base_url.rstrip("/")
        self._http = http
        self._limits = limits
        self.timeout_seconds = timeout_seconds
        self.max_pages = max_pages
        self.max_entries = max_entries
        self.max_response_bytes = max_response_bytes
        self.cut_off: set[str] = set()
        """Resource types of the searches whose paging stopped short (a bound reached, or an
        off-origin `next` link, or one that is no URL): the history they gave is incomplete."""
        self.unreadable: set[str] = set()
        """Resource types of the searches with entries that hold nothing to read."""
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
        resources, failed, unread = bundle_resources(bundle)
        if failed:
            raise FhirServerError(f"FHIR search of {label}: the server reported an error")
        if unread:
            self.unreadable.add(_search_kind(label, bundle))
        return await self._follow(bundle, resources, label, pages=1)

    async def continue_search(self, bundle: Mapping[str, Any], *, have: int = 0) -> list[Resource]:
        """The resources of the pages after `bundle` (one already in hand, e.g. prefetched),
        following its `next` links within the same bounds as `search` (counting `bundle` as
        one page holding `have` resources)."""
        return await self._follow(bundle, [], "continued search", pages=1, already=have)

    def on_server(self, url: str) -> ServerUrl | None:
        """`url` in normal form when it lies on fhirServer's origin and under its base path."""
        candidate = normalise(url)
        if self._base is None or candidate is None or not candidate.within(self._base):
            return None
        return candidate

    def same_server(self, url: str) -> bool:
        """True when `url` lies on fhirServer's origin and under its base path."""
        return self.on_server(url) is not None

    def local_reference(self, reference: str) -> tuple[str, str] | None:
        """(type, id) for `Type/id`, or for an absolute URL on this server; else None."""
        if "://" in reference:
            found = self.on_server(reference)
            if found is None or self._base is None:
                return None
            reference = found.path[len(self._base.path) :].lstrip("/")
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
        page = bundle
        url = next_link(page)
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
            on_server = self.on_server(absolute)
            if on_server is None:
                logger.warning(
                    "FHIR search of %s: next link leaves fhirServer, not followed", label
                )
                self.cut_off.add(_search_kind(label, bundle))
                break
            page = await self._get_bundle(str(on_server), label)
            page_resources, failed, unread = bundle_resources(page)
            if failed:
                raise FhirServerError(f"FHIR search of {label}: the server reported an error")
            if unread:
                self.unreadable.add(_search_kind(label, bundle))
            resources.extend(page_resources)
            pages += 1
            url = next_link(page)
        else:
            if has_next(page):  # a next page, but no URL to follow
                self.cut_off.add(_search_kind(label, bundle))
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
        if self._base is None:
            raise FhirServerError("fhirServer is not an absolute http(s) URL")
        # The one place every request passes: what is fetched is the normal form, checked.
        target = self.on_server(url)
        if target is None:
            raise FhirServerError(f"FHIR request for {label} would leave fhirServer")
        try:
            async with asyncio.timeout(self.timeout_seconds):
                status, content = await self._fetch(target)
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

    async def _fetch(self, target: ServerUrl) -> tuple[int, bytes]:
        timeout = httpx.Timeout(self.timeout_seconds)
        # A slot of this origin's bulkhead for the whole exchange (waiting counts against the
        # timeout): a server that hangs holds its own slots, never another server's.
        slot = self._limits.slot(target.origin) if self._limits else contextlib.nullcontext()
        async with (
            slot,
            self._http.stream(
                "GET", str(target), headers=self._headers, timeout=timeout, follow_redirects=False
            ) as response,
        ):
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
    kind = path.rsplit("/", 1)[-1]
    if (has_query and path) or _RESOURCE_TYPE.fullmatch(kind):  # `search` labels by its type
        return kind
    for resource in bundle_resources(bundle)[0]:
        first = resource.get("resourceType")
        if isinstance(first, str):
            return first
    return "search"
