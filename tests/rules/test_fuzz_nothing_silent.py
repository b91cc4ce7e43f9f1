"""Nothing silent, fuzzed (issue 12): real requests with one or two fields, or what they
prefetched, changed.

Every order-sign and order-select fixture that drafts an opioid, and four requests built from
the public Nictiz MP9 instances (tests/data/nictiz), are evaluated once as they are (the
baseline), then with fields of a drafted opioid or of a medication-history resource changed:
dates, quantities, timing, references, extensions, deletions, type swaps, deep nesting. Each
change is classified by what it does to the value, and the class decides what must hold:

- `unreadable`: the value can no longer be read as what FHIR defines there (garbage or
  impossible dates, non-numbers, negative amounts, unknown units, a wrong JSON type, a
  medicationReference that resolves to nothing, a required element left out or null, an
  extension nested hundreds of levels deep). Every card the baseline gave an order still comes (from
  the next source), or the `incomplete-check` card names the changed resource or the order.
- `equivalent`: the same value written another way (a date with a time and zone on the same
  day, 2 as 2.0 or "2", a code 57614 as a number, 10 mg as 10000 ug, a single array item
  without its array, the medication as a contained Medication, an unknown extension added).
  Exactly the cards of the baseline, for the same orders, with the same suggestions (but
  those a card says it left out: a draft that is not valid R4 as it stands is not sent back).
- `clinical`: another valid value (a far past or future date, zero, a tiny or huge decimal,
  an optional element left out or null: no indication, no repeats, no period of use). The cards may
  change, because the facts did; every drafted opioid of the baseline is still judged, or the
  `incomplete-check` card names it.

The patient's other resources, changed the same way by a second property: every Condition,
Encounter, Patient, PractitionerRole, Practitioner, Organization, Procedure and Observation of
those requests, and of three more built so that a field no fixture carries decides a card
(today's phone call recorded as an ambulatory consult whose type says "by phone"; back pain
diagnosed on today's encounter, not on the order; a pregnancy known from a pregnancy status
Observation). The classes hold as above, with the changed resource as what the
`incomplete-check` card may name: an opioid use disorder, pregnancy, specialist's role,
practice code or consult type that can no longer be read keeps its card or is named.

What the requests prefetched, changed by a third property (`fuzz_prefetch.py`, the requests
sent without `fhirServer`): a key left out, null, no FHIR resource or an OperationOutcome
(`unreadable`, the key missing: 412 naming it when the hook requires it, else every card the
baseline gave still comes, or the key is listed under a card's `missing_data`; null is
`clinical`, no hits); a search Bundle whose `entry` is no array or holds an error (missing as
well); one holding less than the search found (a `next` link, one that is no URL, a `total`
above its entries) or entries that hold nothing to read (no resource, no `resourceType`, its
entries inside a Bundle inside it): `unreadable`, the key listed; the same Bundle told another
way (entries reversed or twice, a note among them, a self link, no total, its one resource
alone, a Patient in a Bundle, a resource moved to another key's Bundle, a key no template asks
for): `equivalent`, with the same `missing_data`; a prefetch that is no JSON object: `invalid`,
a 400 naming `prefetch`. Left out, a key the context cannot fill a template for (the user's
roles, for a user who is a PractitionerRole) is `clinical`: a client keeping to CDS Hooks does
not send it.

Whatever the class, no rule and no reader raises (the engine would name it "failed"), the
HTTP API never answers 5xx, and a 400 names the field that makes the request invalid CDS
Hooks (a draft's `resourceType`: the one change of class `invalid`). Left alone: what a
resource is (`resourceType` of the history, `id`), extension URLs and code systems, and
references other than medicationReference resolving to nothing: each makes another request.

Most examples go through the pipeline in-process (`app.pipeline.evaluate_hook_request`, no
network, on the fixtures' anchor day); a fifth as many again go through the HTTP API, which
must answer as the pipeline does. Under `CI=true` the profile `fuzz-ci` runs 1,000 examples
for each of the three properties and 200 + 200 over HTTP (about 17 s), derandomized, so a
failure reproduces; locally `fuzz-dev` runs 150 each and 30 + 30 at random, and
`OPIOID_CDS_FUZZ_EXAMPLES=20000` hunts longer.

That the property fails when it should was checked by breaking the product by hand (not
committed). Found within `fuzz-ci`: a reader raising on an unreadable frequency while the
facts builder's guards swallowed the error unnamed (antitussive-codeine lost its pregnancy
card); `reading.medication_problem` returning nothing; the element check of
`rules/facts/elements.py` left out. Rarer: the period of use's unreadable dates unreported
loses a card in 62 of 8,455 date changes (found by the HTTP share, not the pipeline's 1,000),
and chronic-use's OverflowError on a period to 9998 with repeats in 1 of 100,337 single changes
(found by trying every single change, about 4 minutes; all of them pass now).
On the patient's resources, `fuzz-ci` found an unreadable Condition code losing the opioid use
disorder or pregnancy card, a specialist's unreadable specialty losing specialist-ownership, a
practice's unreadable AGB code losing its overlay's duration card, and an unreadable phone
type or diagnosis on today's encounter losing the follow-up or back pain card (143 of 28,779
single changes failed before the fix). On the prefetch: a Bundle nested in a search's Bundle,
entries without a resource, and a missing search that silenced the only card of the call
(284 of 13,841 single changes). Comparing suggestions too: only the first card about a draft
that is not valid R4 said why its `update` suggestions were missing (30 of 118,109).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.settings import Settings
from rules.fixtures import ANCHOR_DATE
from rules.hooks import SPEC_BY_SERVICE
from tests.rules.fuzz_cases import Case, Kind, Outcome, evaluate, post
from tests.rules.fuzz_changes import DELETE, MEDICATION_KEYS, Change, apply, changed_requests
from tests.rules.fuzz_prefetch import PREFETCH, PrefetchChange, apply_prefetch, changed_prefetches

settings.register_profile(
    "fuzz-ci",
    max_examples=1000,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "fuzz-dev",
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
FUZZ = settings.get_profile("fuzz-ci" if IN_CI else "fuzz-dev")
if os.environ.get("OPIOID_CDS_FUZZ_EXAMPLES"):  # a longer hunt by hand: 20000, say
    FUZZ = settings(FUZZ, max_examples=int(os.environ["OPIOID_CDS_FUZZ_EXAMPLES"]))
HTTP_SHARE = 5
"""Each HTTP property runs a fifth of a pipeline property's examples."""


# --- the property ----------------------------------------------------------------------------


def silent_losses(case: Case, changed: Sequence[Change], outcome: Outcome) -> list[str]:
    """What the GP is not told; empty when the outcome is what the changes' class demands."""
    kind = min(change.kind for change in changed)
    baseline = case.baseline
    if kind is Kind.EQUIVALENT:  # the same cards, lines on incomplete-check and missing data
        lost = (baseline.fired - outcome.fired) | (baseline.problems - outcome.problems)
        gained = (outcome.fired - baseline.fired) | (outcome.problems - baseline.problems)
        lost |= {("missing_data", key) for key in baseline.listed - outcome.listed}
        gained |= {("missing_data", key) for key in outcome.listed - baseline.listed}
        # A card that says it left suggestions out (a draft not valid R4 as it stands) told.
        lost |= {s for s in baseline.suggested - outcome.suggested if s[0] not in outcome.omitting}
        gained |= outcome.suggested - baseline.suggested
        return [f"lost {sorted(lost)}, gained {sorted(gained)}"] if lost or gained else []
    named = any(change.target.named_by & outcome.named for change in changed)
    if kind is Kind.UNREADABLE:
        return [
            f"{rule_id} for {order_id}"
            for rule_id, order_id in sorted(baseline.fired - outcome.fired)
            if not (named or order_id in outcome.named)
        ]
    assert baseline.judged is not None and outcome.judged is not None
    # A draft still being composed whose medication is left out is no opioid order yet.
    not_chosen = {
        change.target.ref
        for change in changed
        if change.target.composed
        and (change.value is DELETE or change.value is None)
        and change.path[0] in MEDICATION_KEYS
    }
    return [
        f"{order_id} is no longer judged"
        for order_id in sorted(baseline.judged - outcome.judged)
        if not (named or order_id in outcome.named or order_id in not_chosen)
    ]


def check(case: Case, changed: Sequence[Change], outcome: Outcome) -> None:
    described = "\n  ".join([case.name, *map(repr, changed)])
    assert outcome.status < 500, f"{outcome.status} for\n  {described}"
    if any(change.kind is Kind.INVALID for change in changed):
        # Not valid CDS Hooks: refused, and the answer names the field.
        assert outcome.status == 400, f"{outcome.status} for\n  {described}"
        assert "resourceType" in outcome.message, f"{outcome.message}\n  {described}"
        return
    assert outcome.status == 200, f"{outcome.status}: {outcome.message}\n  {described}"
    assert not outcome.failed, f"raised: {sorted(outcome.failed)} for\n  {described}"
    losses = silent_losses(case, changed, outcome)
    assert not losses, f"silent: {losses} for\n  {described}"


@FUZZ
@given(changed_requests(ANCHOR_DATE))
def test_every_drafted_opioid_keeps_its_cards_or_is_named(
    example: tuple[Case, tuple[Change, ...]],
) -> None:
    case, changed = example
    check(case, changed, evaluate(apply(case.request, changed), case, ANCHOR_DATE))


@FUZZ
@given(changed_requests(ANCHOR_DATE, medication=False))
def test_a_change_to_the_patients_resources_loses_no_card_unsaid(
    example: tuple[Case, tuple[Change, ...]],
) -> None:
    case, changed = example
    check(case, changed, evaluate(apply(case.request, changed), case, ANCHOR_DATE))


def prefetch_losses(case: Case, changed: Sequence[PrefetchChange], outcome: Outcome) -> list[str]:
    """What the GP is not told of a change to the prefetch: a card lost, with the key it came
    from neither listed under `missing_data` nor the order named on incomplete-check."""
    kind = min(change.kind for change in changed)
    baseline = case.baseline
    if kind is Kind.EQUIVALENT:
        same = (baseline.fired, baseline.problems, baseline.listed, baseline.suggested)
        if (outcome.fired, outcome.problems, outcome.listed, outcome.suggested) == same:
            return []
        differences = [
            sorted(outcome.fired ^ baseline.fired),
            sorted(outcome.problems ^ baseline.problems),
            sorted(outcome.listed ^ baseline.listed),
            sorted(outcome.suggested ^ baseline.suggested),
        ]
        return [f"cards, problems, missing data, suggestions differ: {differences}"]
    templates = SPEC_BY_SERVICE[case.service].prefetch
    touched = {
        key
        for change in changed
        for key in (templates if change.keys == (PREFETCH,) else change.keys)
    }
    if kind is Kind.UNREADABLE and not touched & outcome.listed:
        return [
            f"{rule_id} for {order_id}"
            for rule_id, order_id in sorted(baseline.fired - outcome.fired)
            if order_id not in outcome.named
        ]
    assert baseline.judged is not None and outcome.judged is not None
    return [
        f"{order_id} is no longer judged"
        for order_id in sorted(baseline.judged - outcome.judged)
        if order_id not in outcome.named
    ]


def check_prefetch(case: Case, changed: Sequence[PrefetchChange], outcome: Outcome) -> None:
    described = "\n  ".join([case.name, *map(repr, changed)])
    assert outcome.status < 500, f"{outcome.status} for\n  {described}"
    if any(change.kind is Kind.INVALID for change in changed):
        assert outcome.status == 400, f"{outcome.status} for\n  {described}"
        assert "prefetch" in outcome.message, f"{outcome.message}\n  {described}"
        return
    spec = SPEC_BY_SERVICE[case.service]
    gone = {
        key
        for change in changed
        if change.whole
        for key in (spec.prefetch if change.keys == (PREFETCH,) else change.keys)
    }
    if required := sorted(gone & spec.required_keys):
        # CDS Hooks' answer when required data cannot be had: 412, naming what.
        assert outcome.status == 412, f"{outcome.status}: {outcome.message}\n  {described}"
        assert all(key in outcome.message for key in required), f"{outcome.message}\n  {described}"
        return
    assert outcome.status == 200, f"{outcome.status}: {outcome.message}\n  {described}"
    assert not outcome.failed, f"raised: {sorted(outcome.failed)} for\n  {described}"
    losses = prefetch_losses(case, changed, outcome)
    assert not losses, f"silent: {losses} for\n  {described}"


@FUZZ
@given(changed_prefetches(ANCHOR_DATE))
def test_a_broken_prefetch_loses_no_card_unsaid(
    example: tuple[Case, tuple[PrefetchChange, ...]],
) -> None:
    case, changed = example
    check_prefetch(
        case, changed, evaluate(apply_prefetch(case.request, changed), case, ANCHOR_DATE)
    )


def _clinical_today() -> date:
    return Settings().clinical_today()


@settings(FUZZ, max_examples=max(FUZZ.max_examples // HTTP_SHARE, 1))
@given(st.data())
def test_over_http_the_same_and_never_a_5xx(api: TestClient, data: st.DataObject) -> None:
    """The HTTP API answers a changed request as the pipeline does in-process (status, cards,
    what incomplete-check names), so the property holds for what the EHR receives."""
    day = _clinical_today()
    case, changed = data.draw(changed_requests(day))
    request = apply(case.request, changed)
    answered = post(api, request, case)
    assert answered.status < 500, f"{answered.status} for {case.name}: {changed}"
    in_process = evaluate(request, case, day)
    assert (answered.status, answered.fired, answered.problems) == (
        in_process.status,
        in_process.fired,
        in_process.problems,
    )
    check(case, changed, replace(answered, judged=in_process.judged))


@settings(FUZZ, max_examples=max(FUZZ.max_examples // HTTP_SHARE, 1))
@given(st.data())
def test_over_http_a_changed_patient_or_prefetch_the_same_and_never_a_5xx(
    api: TestClient, data: st.DataObject
) -> None:
    """As above, for the changes to the patient's resources and to the prefetch (the latter
    with what the body's JSON and the request model make of a prefetch that is no object)."""
    day = _clinical_today()
    prefetch = data.draw(st.booleans(), label="the prefetch changed")
    if prefetch:
        case, prefetch_changes = data.draw(changed_prefetches(day))
        request = apply_prefetch(case.request, prefetch_changes)
    else:
        case, changes = data.draw(changed_requests(day, medication=False))
        request = apply(case.request, changes)
    answered = post(api, request, case)
    assert answered.status < 500, f"{answered.status} for {case.name}"
    in_process = evaluate(request, case, day)
    assert (answered.status, answered.fired, answered.problems, answered.listed) == (
        in_process.status,
        in_process.fired,
        in_process.problems,
        in_process.listed,
    )
    answered = replace(answered, judged=in_process.judged)
    if prefetch:
        check_prefetch(case, prefetch_changes, answered)
    else:
        check(case, changes, answered)
