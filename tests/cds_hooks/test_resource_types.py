"""A draftOrders entry must be a FHIR R4 resource (issue 12, "Nothing silent").

The list of resource types is data (`cds_hooks/fhir_resource_types.json`), made from the
`fhir.resources` package's R4B module list; this test keeps it equal to that package, and
prints the file's new contents when the package changed.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from importlib.resources import files
from typing import Any

import fhir.resources.R4B as r4b
from fastapi.testclient import TestClient
from fhir.resources.R4B.resource import Resource

from cds_hooks.contexts import FHIR_RESOURCE_TYPES
from rules.fixtures import FIXTURES_DIR, load_fixture

ABSTRACT = {"Resource", "DomainResource"}


def _package_resource_types() -> set[str]:
    names: set[str] = set()
    for module_info in pkgutil.iter_modules(r4b.__path__):
        module = importlib.import_module(f"{r4b.__name__}.{module_info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Resource)
                and value.__module__ == module.__name__
            ):
                names.add(value.__name__)
    return names - ABSTRACT


def test_the_data_file_is_the_packages_list() -> None:
    document = json.loads(
        files("cds_hooks").joinpath("fhir_resource_types.json").read_text("utf-8")
    )
    assert "fhir.resources" in document["source"]
    assert document["resource_types"] == sorted(document["resource_types"])
    expected = sorted(_package_resource_types())
    assert document["resource_types"] == expected, json.dumps(expected, indent=2)
    assert frozenset(expected) == FHIR_RESOURCE_TYPES
    assert {"MedicationRequest", "ServiceRequest", "Bundle"} <= FHIR_RESOURCE_TYPES


def _request_with(resource: dict[str, Any]) -> dict[str, Any]:
    request, _ = load_fixture(FIXTURES_DIR / "gp-duration-14-days.json")
    request["context"]["draftOrders"]["entry"].append({"resource": resource})
    return request


def test_a_draft_that_is_not_a_fhir_resource_is_a_400_naming_the_entry(api: TestClient) -> None:
    response = api.post(
        "/cds-services/opioid-order-sign",
        json=_request_with({"resourceType": "Foo", "id": "x"}),
    )
    assert response.status_code == 400, response.text
    [issue] = response.json()["issue"]
    assert issue["diagnostics"] == (
        'context.draftOrders.entry[1].resource.resourceType: "Foo" is not a FHIR R4 resource type'
    )
    assert issue["expression"] == ["context.draftOrders.entry[1].resource.resourceType"]


def test_a_resource_type_that_is_not_a_string_is_a_400(api: TestClient) -> None:
    response = api.post(
        "/cds-services/opioid-order-sign", json=_request_with({"resourceType": ["x" * 500]})
    )
    assert response.status_code == 400, response.text
    assert "context.draftOrders.entry[1].resource.resourceType" in response.text
    assert "x" * 100 not in response.text  # the echoed value is cut short


def test_another_r4_resource_next_to_the_opioid_is_accepted(api: TestClient) -> None:
    response = api.post(
        "/cds-services/opioid-order-sign",
        json=_request_with({"resourceType": "ServiceRequest", "id": "sr-1", "status": "draft"}),
    )
    assert response.status_code == 200, response.text
    codes = {card["source"]["topic"]["code"] for card in response.json()["cards"]}
    assert "gp-duration-limit" in codes
