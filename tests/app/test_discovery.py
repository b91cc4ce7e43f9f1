from __future__ import annotations

import re
from urllib.parse import parse_qsl

from fastapi.testclient import TestClient

# CDS Hooks 2.0 §Prefetch: the recommended query subset.
_TOKEN = re.compile(
    r"^\{\{(context\.\w+|userPractitionerId|userPractitionerRoleId|"
    r"userPatientId|userRelatedPersonId)\}\}$"
)
_ALLOWED_SEARCH = {"patient", "practitioner", "code", "status", "_count", "_sort"}


def test_discovery_lists_exactly_the_three_services(client: TestClient) -> None:
    response = client.get("/cds-services")

    assert response.status_code == 200
    services = {service["id"]: service for service in response.json()["services"]}
    assert {sid: s["hook"] for sid, s in services.items()} == {
        "opioid-order-select": "order-select",
        "opioid-order-sign": "order-sign",
        "opioid-patient-view": "patient-view",
    }
    for service in services.values():
        assert service["title"] and service["description"] and service["usageRequirements"]


def test_prefetch_templates_keep_to_the_recommended_query_subset(client: TestClient) -> None:
    for service in client.get("/cds-services").json()["services"]:
        for key, template in service["prefetch"].items():
            resource_path, _, query = template.partition("?")
            if not query:  # an instance read: Type/{{token}}
                resource_type, token = resource_path.split("/")
                assert resource_type[0].isupper() and _TOKEN.match(token), (key, template)
                continue
            assert "/" not in resource_path, (key, template)
            for name, value in parse_qsl(query):
                assert name in _ALLOWED_SEARCH, (key, name)
                if name in ("patient", "practitioner"):
                    assert _TOKEN.match(value), (key, value)


def test_discovery_body_has_no_nulls_or_empty_values(client: TestClient) -> None:
    def walk(value: object) -> None:
        assert value not in (None, "", [], {})
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(client.get("/cds-services").json())
