"""Prefetch resolution (CDS Hooks 2.0 §Prefetch): from the request's prefetch and fhirServer to
the FHIR data the rules need, within a deadline.

    resolved = await resolve_prefetch(request, templates, required, client, deadline_seconds=2.0)
    resolved.resources   # every resource, flattened out of Bundles, plus resolved Medications
    resolved.missing     # template keys whose data could not be had

Per template key:
- present with data (a resource or a Bundle): used; a searchset Bundle with a `next` link is
  followed on fhirServer when there is a client (bounded; a further page that fails makes the
  key failed, as partial history could mislead the rules), else used as it is and reported
  as cut off (`ResolvedData.cut_off`), like a search whose paging stopped at a bound or at a
  `next` link off fhirServer, one with a `next` link that is no URL, and one without a `next`
  link whose `total` says it found more than it holds; entries that hold nothing to read (no
  resource, no `resourceType`, a Bundle in the Bundle) are left out and reported
  (`ResolvedData.unreadable`);
- present with `null`: known empty (no resource, or a search with no hits);
- present with an OperationOutcome (or with something that is not FHIR): failed;
- absent, or failed: fetched from fhirServer with the request's bearer token; all keys in
  parallel, each HTTP call with the client's timeout, everything within `deadline_seconds`.
  A key whose template cannot be filled (e.g. `{{userPractitionerId}}` when the user is not a
  Practitioner) or that the server does not deliver in time is *missing*.
A *required* key that is missing raises `PrefetchUnavailable` (412); the app evaluates without
the rules that need any other missing key.

`medicationReference`s of the draft orders and of the fetched/prefetched history are resolved
(`cds_hooks.references`) from the referring resource's `contained`, the draftOrders entries, the
prefetched/fetched resources, or else by reading `Medication/<id>` on fhirServer (within the
same deadline). At most `max_medication_reads` distinct Medications are read per hook request
(the draft orders' first), at most `medication_read_concurrency` at a time, so that one
request with a long history of distinct medicationReferences cannot flood fhirServer nor occupy
the shared connection pool.
Medications read from the server are added to `resources`; references that could not be
resolved (including those beyond the cap, logged as a count) are listed in
`unresolved_references`; the rules then fall back to the orders' display text.

Nothing here logs or keeps the access token; log lines name keys and counts, not queries.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from cds_hooks.draft_orders import DraftOrders
from cds_hooks.errors import FhirServerError, PrefetchUnavailable
from cds_hooks.failures import describe_failure
from cds_hooks.fhir_client import (
    FhirClient,
    bundle_resources,
    has_next,
    next_link,
    split_reference,
)
from cds_hooks.models import HookRequest
from cds_hooks.references import References, resolve_contained

__all__ = [
    "MAX_MEDICATION_READS",
    "MEDICATION_READS",
    "MEDICATION_READ_CONCURRENCY",
    "USER_TOKENS",
    "FetchObserver",
    "ResolvedData",
    "render_template",
    "resolve_prefetch",
    "searched_type",
]

logger = logging.getLogger(__name__)

Resource = dict[str, Any]

USER_TOKENS: Mapping[str, str] = {
    "userPractitionerId": "Practitioner",
    "userPractitionerRoleId": "PractitionerRole",
    "userPatientId": "Patient",
    "userRelatedPersonId": "RelatedPerson",
}
"""The spec's user tokens and the resource type `context.userId` must have to fill them."""

MAX_MEDICATION_READS = 50
"""Distinct `Medication/<id>` reads on fhirServer per hook request; further references are
left unresolved."""
MEDICATION_READ_CONCURRENCY = 8
"""Medication reads of one hook request in flight at once (the HTTP pool is shared)."""

FetchObserver = Callable[[str, bool], None]
"""Told of every fetch from fhirServer as it ends: the prefetch key (or `MEDICATION_READS`) and
whether it failed (an error, a timeout, the deadline). How the app counts fetches per key."""
MEDICATION_READS = "Medication"
"""The name `FetchObserver` gets for the reads of medicationReferences (no template key)."""

_TOKEN = re.compile(r"\{\{(.*?)\}\}")
_UNFILLABLE = "the prefetch template cannot be filled from context"
_CANCEL_GRACE_SECONDS = 0.05


# --- templates -------------------------------------------------------------------------------


def render_template(template: str, context: Mapping[str, Any]) -> str | None:
    """Fill a prefetch template's `{{...}}` tokens from the hook context.

    Tokens: `{{context.X}}` for a first-level primitive context field X (string, number,
    boolean), and the user tokens of `USER_TOKENS`, derived from `context.userId`
    (`Practitioner/123` fills `{{userPractitionerId}}` with `123`). Values are percent-encoded,
    so a context value cannot add query parameters or path segments. Returns None when a token
    is unknown or cannot be filled: then the key cannot be fetched.
    """
    unfilled = False

    def fill(match: re.Match[str]) -> str:
        nonlocal unfilled
        value = _token_value(match.group(1).strip(), context)
        if value is None:
            unfilled = True
            return ""
        return quote(value, safe="")

    rendered = _TOKEN.sub(fill, template)
    if unfilled or "{{" in rendered or "}}" in rendered:
        return None
    return rendered


def _token_value(token: str, context: Mapping[str, Any]) -> str | None:
    if token.startswith("context."):
        name = token.removeprefix("context.")
        if not name or "." in name:
            return None  # only first-level context fields may be tokens (spec §Prefetch tokens)
        value = context.get(name)
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float) or (isinstance(value, str) and value):
            return str(value)
        return None
    wanted_type = USER_TOKENS.get(token)
    user = context.get("userId")
    if wanted_type is None or not isinstance(user, str):
        return None
    reference = split_reference("/".join(user.rstrip("/").split("/")[-2:]))
    if reference is None or reference[0] != wanted_type:
        return None
    return reference[1]


def searched_type(template: str) -> str:
    """The resource type a prefetch template reads or searches (`Patient/{{…}}`, `Condition?…`)."""
    return template.partition("?")[0].partition("/")[0]


# --- the result ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ResolvedData:
    resources: list[Resource]
    """Every resource of every key (Bundles flattened, OperationOutcomes removed, duplicates of
    the same Type/id dropped), then the Medications read from fhirServer."""
    missing: frozenset[str]
    """Template keys whose data could not be had (optional ones; a required one raises)."""
    fetched: frozenset[str]
    """Keys for which data came from fhirServer (whole, or further pages of a prefetch)."""
    fetch_ms: float
    """Wall time of the resolution, in milliseconds."""
    unresolved_references: frozenset[str] = field(default_factory=frozenset)
    """medicationReferences found in neither contained, draftOrders, the data, nor fhirServer."""
    cut_off: frozenset[str] = field(default_factory=frozenset)
    """Resource types of the searches whose paging stopped short (`FhirClient.cut_off`, or a
    prefetched page with a `next` link and no fhirServer to follow it on, or that holds fewer
    entries than its `total`)."""
    unreadable: frozenset[str] = field(default_factory=frozenset)
    """Resource types of the searches with entries that hold nothing to read."""
    unasked: frozenset[str] = field(default_factory=frozenset)
    """Of `missing`, the keys the client did not send and whose template the context cannot
    fill (`{{userPractitionerId}}` for a user who is a PractitionerRole): missing by design."""


# --- resolution ------------------------------------------------------------------------------


async def resolve_prefetch(
    request: HookRequest,
    templates: Mapping[str, str],
    required: frozenset[str],
    client: FhirClient | None,
    deadline_seconds: float,
    *,
    draft_orders: DraftOrders | None = None,
    max_medication_reads: int = MAX_MEDICATION_READS,
    medication_read_concurrency: int = MEDICATION_READ_CONCURRENCY,
    on_fetch: FetchObserver | None = None,
) -> ResolvedData:
    """Resolve every template key (see the module docstring). Raises `PrefetchUnavailable`
    naming the required keys that are missing; never raises anything else for bad data or a
    failing FHIR server. Returns within `deadline_seconds` (plus cancellation time).

    `draft_orders` are the request's, as the caller read them from the checked context; when
    not given they are read from `request.context` here. `on_fetch` hears of every fetch
    from fhirServer as it ends."""
    resolver = _Resolver(
        request,
        draft_orders
        if draft_orders is not None
        else DraftOrders.from_json(request.context.get("draftOrders")),
        client,
        deadline_seconds,
        max_medication_reads=max_medication_reads,
        medication_read_concurrency=medication_read_concurrency,
        on_fetch=on_fetch,
    )
    return await resolver.run(templates, required)


_Job = tuple[str, str]  # ("key", name) | ("next", name) | ("medication", "Medication/id")


class _Resolver:
    def __init__(
        self,
        request: HookRequest,
        draft_orders: DraftOrders,
        client: FhirClient | None,
        deadline_seconds: float,
        *,
        max_medication_reads: int,
        medication_read_concurrency: int,
        on_fetch: FetchObserver | None,
    ) -> None:
        self.started = time.perf_counter()
        self.loop = asyncio.get_running_loop()
        self.deadline = self.loop.time() + max(deadline_seconds, 0.0)
        self.request = request
        self.client = client
        self.data: dict[str, list[Resource]] = {}
        self.failures: dict[str, str] = {}  # key -> reason (for the 412 message and logs)
        self.fetched: set[str] = set()
        self.tasks: dict[asyncio.Task[Any], _Job] = {}
        self.draft_orders = draft_orders
        self._references: References | None = None  # built when a reference needs it
        self.medications_read: list[Resource] = []
        self.reading: set[str] = set()
        self.unresolved: set[str] = set()
        self.max_medication_reads = max(max_medication_reads, 0)
        self.medication_slots = asyncio.Semaphore(max(medication_read_concurrency, 1))
        self.over_cap: set[str] = set()  # Medication/<id> not read because of the cap
        self.cut_off: set[str] = set()  # types of prefetched searches with pages left unread
        self.unreadable: set[str] = set()  # types of prefetched searches with unread entries
        self.on_fetch = on_fetch

    async def run(self, templates: Mapping[str, str], required: frozenset[str]) -> ResolvedData:
        prefetch = self.request.prefetch or {}
        for key, template in templates.items():
            if key in prefetch and self._take_prefetched(key, prefetch[key], template):
                continue
            self._fetch_key(key, template)
        self._resolve_medications(self.draft_orders.resources)
        for resources in list(self.data.values()):
            self._resolve_medications(resources)
        await self._wait_for_tasks()
        # A Medication left out by the cap may still have come with a later key.
        self.unresolved |= {name for name in self.over_cap if not self._has_medication(name)}
        if self.over_cap:
            logger.warning(
                "prefetch: %d medicationReferences beyond the cap of %d Medication reads "
                "left unresolved (%d read)",
                len(self.over_cap),
                self.max_medication_reads,
                len(self.reading),
            )

        missing = frozenset(key for key in templates if key not in self.data)
        elapsed_ms = (time.perf_counter() - self.started) * 1000
        logger.info(
            "prefetch resolved in %.1f ms: fetched=%s missing=%s",
            elapsed_ms,
            sorted(self.fetched),
            sorted(missing),
        )
        if missing:
            by_reason: dict[str, list[str]] = {}
            for key in sorted(missing):
                by_reason.setdefault(self.failures.get(key, "not available"), []).append(key)
            logger.warning(
                "prefetch keys unavailable: %s",
                "; ".join(f"{', '.join(keys)} ({reason})" for reason, keys in by_reason.items()),
            )
        required_missing = sorted(missing & required)
        if required_missing:
            reasons = "; ".join(
                f"{key}: {self.failures.get(key, 'not available')}" for key in required_missing
            )
            raise PrefetchUnavailable(
                f"Required FHIR data could not be obtained ({reasons})", keys=required_missing
            )
        return ResolvedData(
            resources=self._flatten(templates),
            missing=missing,
            fetched=frozenset(self.fetched),
            fetch_ms=elapsed_ms,
            unresolved_references=frozenset(self.unresolved),
            cut_off=frozenset(self.cut_off | (self.client.cut_off if self.client else set())),
            unreadable=frozenset(
                self.unreadable | (self.client.unreadable if self.client else set())
            ),
            unasked=frozenset(key for key in missing if self.failures.get(key) == _UNFILLABLE),
        )

    # prefetched data

    def _take_prefetched(self, key: str, value: Any, template: str) -> bool:
        """Use a prefetched value; False when it is a failure (to be fetched instead)."""
        if value is None:
            self.data[key] = []  # known empty
            return True
        if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
            self.failures[key] = "the prefetched value is not a FHIR resource"
            return False
        if value["resourceType"] == "OperationOutcome":
            self.failures[key] = "the client sent an OperationOutcome instead of the data"
            return False
        if value["resourceType"] != "Bundle":
            self.data[key] = [value]
            return True
        resources, failed, unread = bundle_resources(value)
        if failed:
            self.failures[key] = "the prefetched Bundle is malformed or reports an error"
            return False
        if unread:
            self.unreadable.add(searched_type(template))
        if self.client is not None and next_link(value) is not None:
            # Complete only once the further pages are in; a failing page fails the key.
            self._start(("next", key), self._continue(value, resources))
        else:
            self.data[key] = resources  # without a client, a first page is what there is
            if has_next(value) or _short_of_total(value):
                self.cut_off.add(searched_type(template))  # ... and it is not complete
        return True

    async def _continue(self, bundle: Mapping[str, Any], first: list[Resource]) -> list[Resource]:
        assert self.client is not None
        return first + await self.client.continue_search(bundle, have=len(first))

    # fetching

    def _fetch_key(self, key: str, template: str) -> None:
        query = render_template(template, self.request.context)
        if query is None:
            self.failures.setdefault(key, _UNFILLABLE)
            return
        if self.client is None:
            self.failures.setdefault(key, "not prefetched, and no fhirServer to fetch it from")
            return
        self._start(("key", key), _query(self.client, query))

    def _start(self, job: _Job, coroutine: Coroutine[Any, Any, Any]) -> None:
        self.tasks[asyncio.ensure_future(coroutine)] = job

    async def _wait_for_tasks(self) -> None:
        try:
            await self._wait_until_deadline()
        finally:  # also when the request itself is cancelled: leave nothing running
            left = [task for task in self.tasks if not task.done()]
            for task in left:
                task.cancel()
            if left:
                await asyncio.wait(left, timeout=_CANCEL_GRACE_SECONDS)

    async def _wait_until_deadline(self) -> None:
        pending = set(self.tasks)
        while pending:
            remaining = self.deadline - self.loop.time()
            if remaining <= 0:
                break
            done, pending = await asyncio.wait(
                pending, timeout=remaining, return_when=asyncio.FIRST_COMPLETED
            )
            for task in done:
                self._finish(task)
            pending |= {task for task in self.tasks if not task.done() and task not in done}
        for task in pending:
            self._give_up(self.tasks[task], "fhirServer did not answer within the deadline")

    def _finish(self, task: asyncio.Task[Any]) -> None:
        kind, name = self.tasks[task]
        if task.cancelled():
            self._give_up((kind, name), "the fetch was cancelled")
            return
        error = task.exception()
        if error is not None:
            if not isinstance(error, FhirServerError):
                logger.warning(
                    "prefetch %s %s failed unexpectedly: %s", kind, name, describe_failure(error)
                )
            self._give_up((kind, name), str(error) or type(error).__name__)
            return
        result = task.result()
        self._report((kind, name), failed=False)
        if kind == "medication":
            if result is None:
                self.unresolved.add(name)
            else:
                self.medications_read.append(result)
                self._remember([result])
            return
        resources: list[Resource] = result
        self.data[name] = resources
        self.fetched.add(name)
        self._remember(resources)
        self._resolve_medications(resources)

    def _give_up(self, job: _Job, reason: str) -> None:
        self._report(job, failed=True)
        kind, name = job
        if kind == "medication":
            self.unresolved.add(name)
        else:
            self.failures[name] = reason

    def _report(self, job: _Job, *, failed: bool) -> None:
        if self.on_fetch is not None:
            kind, name = job
            self.on_fetch(MEDICATION_READS if kind == "medication" else name, failed)

    # medications

    def _resolve_medications(self, resources: Iterable[Mapping[str, Any]]) -> None:
        for resource in resources:
            reference = _medication_reference(resource)
            if reference is None or self._resolved_locally(resource, reference):
                continue
            local = (
                self.client.local_reference(reference)
                if self.client is not None
                else split_reference(reference)
            )
            if local is None or local[0] != "Medication":
                self.unresolved.add(reference)
                continue
            name = f"Medication/{local[1]}"
            if self._has_medication(name) or name in self.reading or name in self.over_cap:
                continue
            if self.client is None:
                self.unresolved.add(reference)
                continue
            if len(self.reading) >= self.max_medication_reads:
                self.over_cap.add(name)
                continue
            self.reading.add(name)
            self._start(("medication", name), self._read_medication(self.client, local[1]))

    async def _read_medication(self, client: FhirClient, medication_id: str) -> Resource | None:
        """One Medication read, waiting for one of this request's read slots (a task cancelled
        at the deadline while it waits never reaches fhirServer)."""
        async with self.medication_slots:
            return await client.read("Medication", medication_id)

    @property
    def references(self) -> References:
        """Everything had so far, by reference: only built when a medicationReference that
        is not contained must be looked up (most requests carry none)."""
        if self._references is None:
            self._references = References(self.draft_orders.entries)
            for resources in self.data.values():
                self._references.add(resources)
            self._references.add(self.medications_read)
        return self._references

    def _remember(self, resources: Iterable[Resource]) -> None:
        if self._references is not None:
            self._references.add(resources)

    def _has_medication(self, reference: str, *containers: Mapping[str, Any]) -> bool:
        found = (
            resolve_contained(reference, containers)
            if reference.startswith("#")
            else self.references.resolve(reference, *containers)
        )
        return found is not None and found.get("resourceType") == "Medication"

    def _resolved_locally(self, resource: Mapping[str, Any], reference: str) -> bool:
        if self._has_medication(reference, resource):
            return True
        if reference.startswith("#"):
            self.unresolved.add(reference)
            return True  # a contained reference can only be resolved in place
        return False

    # result

    def _flatten(self, templates: Mapping[str, str]) -> list[Resource]:
        seen: set[tuple[object, str]] = set()
        flat: list[Resource] = []
        for key in templates:
            for resource in self.data.get(key, ()):
                identity = resource.get("id")
                if type(identity) is str:
                    # resourceType is a string here: bundle_resources and _take_prefetched
                    # only take resources that have one.
                    marker = (resource.get("resourceType"), identity)
                    if marker in seen:
                        continue
                    seen.add(marker)
                flat.append(resource)
        for medication in self.medications_read:
            marker = ("Medication", str(medication.get("id")))
            if marker not in seen:
                seen.add(marker)
                flat.append(medication)
        return flat


def _short_of_total(bundle: Mapping[str, Any]) -> bool:
    """A Bundle that holds fewer entries than its `total` (the number of matches) says the
    search found: the client sent a first page without its `next` link."""
    total = bundle.get("total")
    if isinstance(total, str):  # lenient, as the readers of resources are: "40" for 40
        total = int(total) if total.isdigit() else None
    entries = bundle.get("entry")
    held = len(entries) if isinstance(entries, list) else 0
    return isinstance(total, int | float) and not isinstance(total, bool) and total > held


async def _query(client: FhirClient, query: str) -> list[Resource]:
    """A rendered template: a read (`Type/id`) or a search (`Type?params`)."""
    path, has_query, _ = query.partition("?")
    if not has_query and "/" in path:
        reference = split_reference(path)
        if reference is None:
            raise FhirServerError("the prefetch template is not a valid read")
        resource = await client.read(*reference)
        return [] if resource is None else [resource]
    return await client.search(query)


def _medication_reference(resource: Mapping[str, Any]) -> str | None:
    """The reference of `medicationReference` (R4), or of `medication.reference` (R5)."""
    holder = resource.get("medicationReference")
    if holder is None:
        medication = resource.get("medication")
        if medication is None:
            return None  # most resources: not a medication resource at all
        holder = medication.get("reference") if isinstance(medication, Mapping) else None
    if type(holder) is dict or isinstance(holder, Mapping):
        reference = holder.get("reference")
        if isinstance(reference, str) and reference:
            return reference
    return None
