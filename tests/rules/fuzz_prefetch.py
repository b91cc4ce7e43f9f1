"""The changes the prefetch property makes (test_fuzz_nothing_silent.py) to what a request
prefetched: a key's value as a whole (left out, null, no FHIR resource, an OperationOutcome),
the Bundle a search came back in (its entries, links and total, a Bundle in it), resources
moved to another key's Bundle, and the prefetch itself. Each with its class (`Kind`).

The changed requests carry no `fhirServer`: what is missing stays missing, in-process and over
HTTP alike, and nothing is fetched from a server that is not there."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from hypothesis import strategies as st

from cds_hooks.prefetch import render_template
from rules.hooks import SPEC_BY_SERVICE
from tests.rules.fuzz_cases import Case, Json, Kind, cases
from tests.rules.fuzz_changes import DELETE

PREFETCH = ""
"""The key of a change to the prefetch as a whole."""
ERROR = {
    "resourceType": "OperationOutcome",
    "issue": [{"severity": "error", "code": "exception", "diagnostics": "search failed"}],
}
NOTE = {
    "resourceType": "OperationOutcome",
    "issue": [{"severity": "information", "code": "informational"}],
}


@dataclass(frozen=True, repr=False)
class PrefetchChange:
    keys: tuple[str, ...]
    """The prefetch keys it changes (`PREFETCH`: the prefetch itself)."""
    values: tuple[Any, ...]
    """Their new values (DELETE leaves a key out)."""
    kind: Kind
    label: str
    whole: bool = False
    """The key cannot be had at all: missing (a required key: 412)."""

    def __repr__(self) -> str:
        where = ", ".join(key or "prefetch" for key in self.keys)
        return f"<{where}: {self.label} [{self.kind.name.lower()}]>"


def _is_bundle(value: Any) -> bool:
    return isinstance(value, dict) and value.get("resourceType") == "Bundle"


def _entries(bundle: Json) -> list[Any]:
    entries = bundle.get("entry", [])
    return entries if isinstance(entries, list) else []


def _counted(bundle: Json) -> Json:
    """The Bundle with its `total` (if any) counting its entries again."""
    return {**bundle, "total": len(_entries(bundle))} if "total" in bundle else bundle


def _searchset(resources: Sequence[Any]) -> Json:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": r} for r in resources],
    }


def _whole(key: str, value: Any, asked: bool) -> Iterator[PrefetchChange]:
    """The key's value replaced: it cannot be had (missing), or (null) is known to be empty.
    Left out, a key whose template the context cannot fill (`{{userPractitionerId}}` for a
    user who is a PractitionerRole) is what a client that keeps to CDS Hooks sends: no gap."""
    yield PrefetchChange(
        (key,), (DELETE,), Kind.UNREADABLE if asked else Kind.CLINICAL, "left out", whole=True
    )
    for label, odd in (
        ("'garbage'", "garbage"),
        ("42", 42),
        ("true", True),
        ("a list", [value]),
        ("an object without resourceType", {"entry": _entries(value)}),
        ("an OperationOutcome", ERROR),
    ):
        yield PrefetchChange((key,), (odd,), Kind.UNREADABLE, label, whole=True)
    yield PrefetchChange((key,), (None,), Kind.CLINICAL, "null (no hits)")


def _bundle_changes(key: str, prefetch: Json) -> Iterator[PrefetchChange]:
    """The search Bundle broken, or told another way."""
    bundle = prefetch[key]
    entries = _entries(bundle)
    others = sorted(k for k, v in prefetch.items() if k != key and _is_bundle(v))

    def changed(label: str, kind: Kind, whole: bool = False, **fields: Any) -> PrefetchChange:
        return PrefetchChange((key,), ({**bundle, **fields},), kind, label, whole)

    yield changed("entry → 'garbage'", Kind.UNREADABLE, True, entry="garbage")
    yield changed("entry → 7", Kind.UNREADABLE, True, entry=7)
    yield changed(
        "an entry that is an error", Kind.UNREADABLE, True, entry=[*entries, {"resource": ERROR}]
    )
    yield changed("an entry that is a note", Kind.EQUIVALENT, entry=[*entries, {"resource": NOTE}])
    self_link = [{"relation": "self", "url": "https://fhir.example.nl/search"}]
    yield changed("a self link", Kind.EQUIVALENT, link=self_link)
    next_page = {"relation": "next", "url": "https://fhir.example.nl/search?page=2"}
    yield changed("a next link", Kind.UNREADABLE, link=[next_page])
    yield changed(
        "a next link without a URL", Kind.UNREADABLE, link=[{"relation": "next", "url": 7}]
    )
    yield changed("a total above its entries", Kind.UNREADABLE, total=len(entries) + 5)
    yield changed(
        "a total above its entries, as text", Kind.UNREADABLE, total=f"{len(entries) + 5}"
    )
    if "total" in bundle:
        without_total = {k: v for k, v in bundle.items() if k != "total"}
        yield PrefetchChange((key,), (without_total,), Kind.EQUIVALENT, "no total")
    if not entries:
        return
    nested = {"resourceType": "Bundle", "type": "searchset", "entry": entries}
    yield changed("its entries in a Bundle in it", Kind.UNREADABLE, entry=[{"resource": nested}])
    yield changed("entries reversed", Kind.EQUIVALENT, entry=entries[::-1])
    yield changed("an entry twice", Kind.EQUIVALENT, entry=[*entries, entries[0]])
    if len(entries) == 1:
        alone = entries[0]["resource"]
        yield PrefetchChange((key,), (alone,), Kind.EQUIVALENT, "its one resource alone")
    for n, entry in enumerate(entries):
        rest = entries[:n] + entries[n + 1 :]
        for label, odd in (
            ("without its resource", {k: v for k, v in entry.items() if k != "resource"}),
            ("→ 'garbage'", "garbage"),
            (
                "without resourceType",
                {**entry, "resource": {**entry["resource"], "resourceType": None}},
            ),
        ):
            at_n = [*entries[:n], odd, *entries[n + 1 :]]
            yield changed(f"entry {n} {label}", Kind.UNREADABLE, entry=at_n)
        for other in others:  # a resource of another type than the search: read all the same
            there = {**prefetch[other], "entry": [*_entries(prefetch[other]), entry]}
            moved = (_counted({**bundle, "entry": rest}), _counted(there))
            yield PrefetchChange(
                (key, other), moved, Kind.EQUIVALENT, f"entry {n} moved to {other}"
            )


def changes_of(case: Case, key: str) -> list[PrefetchChange]:
    """Every change this module makes to one prefetch key of a case (or to the prefetch)."""
    prefetch = case.request["prefetch"]
    if key == PREFETCH:
        return [
            PrefetchChange((PREFETCH,), ("garbage",), Kind.INVALID, "'garbage'"),
            PrefetchChange((PREFETCH,), ([],), Kind.INVALID, "a list"),
            PrefetchChange((PREFETCH,), (None,), Kind.UNREADABLE, "null", whole=True),
            PrefetchChange((PREFETCH,), ({},), Kind.UNREADABLE, "empty", whole=True),
            PrefetchChange(
                ("unknownKey",), ("garbage",), Kind.EQUIVALENT, "a key no template asks for"
            ),
        ]
    value = prefetch[key]
    template = SPEC_BY_SERVICE[case.service].prefetch[key]
    asked = render_template(template, case.request["context"]) is not None
    found = list(_whole(key, value, asked))
    if _is_bundle(value):
        found += _bundle_changes(key, prefetch)
    else:
        found.append(PrefetchChange((key,), (_searchset([value]),), Kind.EQUIVALENT, "in a Bundle"))
    return found


def apply_prefetch(request: Json, changed: Sequence[PrefetchChange]) -> Json:
    """A copy of the request with the changes made, and without a `fhirServer`."""
    result = copy.deepcopy(request)
    result.pop("fhirServer", None)
    result.pop("fhirAuthorization", None)
    for change in changed:
        if change.keys == (PREFETCH,):
            result["prefetch"] = copy.deepcopy(change.values[0])
            continue
        for key, value in zip(change.keys, change.values, strict=True):
            if value is DELETE:
                del result["prefetch"][key]
            else:
                result["prefetch"][key] = copy.deepcopy(value)
    return result


@st.composite
def changed_prefetches(draw: st.DrawFn, day: date) -> tuple[Case, tuple[PrefetchChange, ...]]:
    """A case and one or two changes to what it prefetched: the key drawn first, then its
    change, so that a key with few changes is drawn as often as one with many; a second change
    (if any) to other keys than the first."""
    case = draw(st.sampled_from(cases(day)))
    keys = sorted(case.request["prefetch"])
    first = draw(st.sampled_from(changes_of(case, draw(st.sampled_from([PREFETCH, *keys])))))
    changed = [first]
    if first.keys != (PREFETCH,) and draw(st.booleans()):
        second = draw(st.sampled_from(changes_of(case, draw(st.sampled_from(keys)))))
        if not set(second.keys) & {PREFETCH, *first.keys}:
            changed.append(second)
    return case, tuple(changed)
