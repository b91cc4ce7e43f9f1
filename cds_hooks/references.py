"""FHIR reference resolution within one hook call (FHIR R4 §References, §Bundle resolution).

    references = References(draft_orders.entries, resources)
    references.resolve("#med", request)            # contained, in the given resources
    references.resolve("urn:uuid:6f1c...")         # a draftOrders entry by its fullUrl
    references.resolve("Medication/med-1")         # relative, also `Type/id/_history/n`
    references.resolve("https://x/fhir/Medication/med-1")  # a fullUrl, else its Type/id

The only place that decides what a reference points at: prefetch uses it before reading
anything from fhirServer, and the facts builder for every reference it follows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["References", "reference_key", "resolve_contained"]

Resource = Mapping[str, Any]


def reference_key(reference: str) -> str:
    """The `Type/id` a reference names, for comparing references: an absolute URL and a
    version are dropped (`https://x/fhir/Practitioner/1/_history/2` → `Practitioner/1`);
    contained (`#id`) and `urn:` references, and anything shorter, are returned unchanged."""
    if reference.startswith(("#", "urn:")):
        return reference
    parts = reference.rstrip("/").split("/")
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    return "/".join(parts[-2:]) if len(parts) >= 2 else reference


def resolve_contained(reference: str, containers: Sequence[Resource]) -> Resource | None:
    """`#id` in the `contained` of the containers, the first container first."""
    wanted = reference[1:]
    if not wanted:
        return None  # `#` alone is the container itself, never a resource to read
    for container in containers:
        contained = container.get("contained")
        if not isinstance(contained, list):
            continue
        for item in contained:
            if isinstance(item, Mapping) and item.get("id") == wanted:
                return item
    return None


class References:
    """The resources of one call by fullUrl, by `Type/id` and by id; first one wins.

    `Type/id` is kept as the pair (type, id): a history has dozens of resources, and a pair
    is made and hashed for less than the string would be (their ids are hashed already, by
    prefetch).

    Built from the draftOrders entries (with their fullUrls) and then the prefetched or
    fetched resources (which come without fullUrls); `add` takes resources that arrive
    later (prefetch reads them as the call goes)."""

    __slots__ = ("_by_full_url", "_by_id", "_by_key", "_identified")

    def __init__(
        self,
        entries: Iterable[tuple[Resource, str | None]] = (),
        resources: Iterable[object] = (),
    ) -> None:
        self._by_full_url: dict[str, Resource] = {}
        self._by_key: dict[tuple[str, str], Resource] = {}
        # Every resource with a type and an id, in order. The map by id (only `urn:` references
        # that are no fullUrl need it, seldom) is made from it when first asked for.
        self._identified: list[tuple[str, Resource]] = []
        self._by_id: dict[str, Resource | None] | None = None
        for resource, full_url in entries:
            self._add(resource, full_url)
        self.add(resources)

    def add(self, resources: Iterable[object]) -> None:
        # `_add` inlined for resources without a fullUrl: a history has dozens per call.
        by_key = self._by_key
        identified = self._identified
        for resource in resources:
            if type(resource) is not dict and not isinstance(resource, Mapping):
                continue
            kind = resource.get("resourceType")
            ident = resource.get("id")
            if isinstance(kind, str) and isinstance(ident, str) and kind and ident:
                key = (kind, ident)
                if key not in by_key:
                    by_key[key] = resource
                identified.append((ident, resource))
        self._by_id = None

    def _add(self, resource: Resource, full_url: str | None) -> None:
        kind = resource.get("resourceType")
        ident = resource.get("id")
        if full_url:
            self._by_full_url.setdefault(full_url, resource)
        if isinstance(kind, str) and kind and isinstance(ident, str) and ident:
            self._by_key.setdefault((kind, ident), resource)
            self._identified.append((ident, resource))
            self._by_id = None
        if full_url and "://" in full_url:
            # A relative reference resolves against the base of an absolute fullUrl.
            kind, _, ident = reference_key(full_url).partition("/")
            self._by_key.setdefault((kind, ident), resource)

    def _resource_with_id(self, ident: str) -> Resource | None:
        """The one resource with this id; None when there is none, or two share the id."""
        by_id = self._by_id
        if by_id is None:
            by_id = self._by_id = {}
            for known, resource in self._identified:
                if known in by_id:
                    if by_id[known] is not resource:
                        by_id[known] = None
                else:
                    by_id[known] = resource
        return by_id.get(ident)

    def resolve(self, reference: object, *containers: Resource) -> Resource | None:
        """The resource `reference` points at, or None.

        `#id` is looked up in the `contained` of `containers` (the referring resource first);
        `urn:uuid:`/`urn:oid:` must be an entry's fullUrl, or else the id of exactly one
        resource (clients that put the uuid in `id` and send no fullUrl); an absolute URL is an
        entry's fullUrl or else its `Type/id`; `Type/id` and `Type/id/_history/n` by `Type/id`.
        """
        if not isinstance(reference, str) or not reference:
            return None
        if reference.startswith("#"):
            return resolve_contained(reference, containers)
        if reference.startswith("urn:"):
            found = self._by_full_url.get(reference)
            if found is not None:
                return found
            if reference.startswith(("urn:uuid:", "urn:oid:")):
                return self._resource_with_id(reference.rsplit(":", 1)[-1])
            return None
        if "://" in reference:
            found = self._by_full_url.get(reference)
            if found is None and "/_history/" in reference:
                found = self._by_full_url.get(reference.split("/_history/", 1)[0])
            if found is not None:
                return found
        kind, slash, ident = reference_key(reference).partition("/")
        return self._by_key.get((kind, ident)) if slash else None
