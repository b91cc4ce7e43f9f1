"""Properties of prefetch resolution over arbitrary (often malformed) prefetch JSON.

No input may make resolution fail with anything but `PrefetchUnavailable` (so no input becomes
a 500), and the outcome for each key follows the spec's table: null and data are used, an
OperationOutcome or a non-resource is a failure, absence is a failure without a server.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cds_hooks.errors import PrefetchUnavailable
from cds_hooks.models import HookRequest
from cds_hooks.prefetch import resolve_prefetch

TEMPLATES = {
    "patient": "Patient/{{context.patientId}}",
    "history": "MedicationRequest?patient={{context.patientId}}",
    "roles": "PractitionerRole?practitioner={{userPractitionerId}}",
}
REQUIRED = frozenset({"history"})

json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=8)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=12,
)
resource_types = st.sampled_from(
    ["Patient", "MedicationRequest", "Medication", "OperationOutcome", "Bundle", ""]
)
resources = st.fixed_dictionaries(
    {"resourceType": resource_types},
    optional={
        "id": st.text(max_size=5) | st.integers(),
        "medicationReference": st.fixed_dictionaries({"reference": st.text(max_size=12)})
        | json_values,
        "contained": st.lists(json_values, max_size=2),
        "issue": json_values,
    },
)
bundles = st.fixed_dictionaries(
    {"resourceType": st.just("Bundle")},
    optional={
        "type": st.text(max_size=10),
        "entry": st.lists(
            st.fixed_dictionaries({}, optional={"resource": resources | json_values}), max_size=4
        )
        | json_values,
        "link": st.lists(
            st.fixed_dictionaries(
                {"relation": st.sampled_from(["next", "self"]), "url": st.text(max_size=10)}
            ),
            max_size=2,
        )
        | json_values,
    },
)
prefetch_values = st.none() | resources | bundles | json_values


def _is_error_outcome(resource: Any) -> bool:
    """An OperationOutcome counts as an error unless every issue is a warning/information."""
    if not isinstance(resource, dict) or resource.get("resourceType") != "OperationOutcome":
        return False
    issues = resource.get("issue")
    if not isinstance(issues, list) or not issues:
        return True
    return not all(
        isinstance(issue, dict) and issue.get("severity") in ("warning", "information")
        for issue in issues
    )


def _classify(value: Any) -> str:
    """What the spec's table says a prefetched value is."""
    if value is None:
        return "data"
    if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
        return "failed"
    if value["resourceType"] == "OperationOutcome":
        return "failed"
    if value["resourceType"] == "Bundle":
        entries = value.get("entry")
        if entries is not None and not isinstance(entries, list):
            return "failed"  # malformed
        for entry in entries or []:
            if isinstance(entry, dict) and _is_error_outcome(entry.get("resource")):
                return "failed"
    return "data"


@settings(max_examples=300, deadline=None)
@given(
    prefetch=st.dictionaries(st.sampled_from(sorted(TEMPLATES)), prefetch_values, max_size=3),
    draft_orders=json_values | bundles,
)
def test_resolution_never_fails_but_with_412(prefetch: dict[str, Any], draft_orders: Any) -> None:
    request = HookRequest.model_validate(
        {
            "hook": "order-sign",
            "hookInstance": "8c4e1a62-3f0b-4f3e-9a52-0d8c7f3b2a11",
            "context": {"patientId": "p", "userId": "Practitioner/u", "draftOrders": draft_orders},
            "prefetch": prefetch,
        }
    )
    history_missing = "history" not in prefetch or _classify(prefetch["history"]) == "failed"
    if history_missing:
        with pytest.raises(PrefetchUnavailable) as raised:
            asyncio.run(resolve_prefetch(request, TEMPLATES, REQUIRED, None, 1.0))
        assert raised.value.keys == ["history"]
        return
    resolved = asyncio.run(resolve_prefetch(request, TEMPLATES, REQUIRED, None, 1.0))
    for key in TEMPLATES:
        expected_missing = key not in prefetch or _classify(prefetch[key]) == "failed"
        assert (key in resolved.missing) == expected_missing, key
    assert all(r.get("resourceType") != "OperationOutcome" for r in resolved.resources)
    assert all(isinstance(r, dict) for r in resolved.resources)
    assert resolved.fetched == frozenset()
