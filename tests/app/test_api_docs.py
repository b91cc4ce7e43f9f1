"""The API documentation: `/docs` from the package (no CDN), an OpenAPI document that
describes the hook and feedback bodies and the statuses the service really sends, and the
root URL."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.db import migrate
from app.docs_ui import ASSETS
from app.main import create_app
from app.settings import PROJECT_ROOT, Settings
from tests.sample_requests import hook_request

HOOK = "/cds-services/{service_id}"
FEEDBACK = "/cds-services/{service_id}/feedback"
#: Every route in the document and the statuses it may answer with.
STATUSES = {
    ("get", "/cds-services"): {"200", "401", "503"},
    ("post", HOOK): {"200", "400", "401", "404", "412", "413", "415", "503"},
    ("post", FEEDBACK): {"200", "400", "401", "404", "413", "415", "503"},
    ("get", "/healthz"): {"200"},
    ("get", "/readyz"): {"200", "503"},
    ("get", "/playground"): {"200"},
    ("get", "/playground/static/{name}"): {"200", "404"},
    ("get", "/playground/fixtures"): {"200"},
    ("get", "/playground/fixtures/{name}"): {"200", "404"},
    ("get", "/playground/catalogue"): {"200"},
    ("get", "/reports"): {"200", "400", "401", "503"},
}


@pytest.fixture
def openapi(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema["$ref"]
    assert ref.startswith("#/components/schemas/")
    resolved: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return resolved


def json_body(document: dict[str, Any], holder: dict[str, Any]) -> dict[str, Any]:
    return resolve(document, holder["content"]["application/json"]["schema"])


def test_every_route_lists_the_statuses_it_sends_and_never_422(openapi: dict[str, Any]) -> None:
    listed = {
        (method, path): set(operation["responses"])
        for path, item in openapi["paths"].items()
        for method, operation in item.items()
    }
    assert listed == STATUSES
    text = json.dumps(openapi)
    assert "422" not in text and "HTTPValidationError" not in text


def test_every_reference_resolves(openapi: dict[str, Any]) -> None:
    names = set(openapi["components"]["schemas"])
    refs = set(re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(openapi)))
    assert refs and refs <= names


def test_the_hook_request_and_the_cards_are_documented(openapi: dict[str, Any]) -> None:
    operation = openapi["paths"][HOOK]["post"]
    assert operation["requestBody"]["required"] is True
    request = json_body(openapi, operation["requestBody"])
    assert {"hook", "hookInstance", "context"} <= set(request["required"])
    assert {"fhirServer", "fhirAuthorization", "prefetch"} <= set(request["properties"])
    cards = json_body(openapi, operation["responses"]["200"])
    assert "cards" in cards["properties"]
    card = resolve(openapi, cards["properties"]["cards"]["items"])
    assert {"summary", "indicator", "source"} <= set(card["required"])
    assert {"suggestions", "overrideReasons", "links"} <= set(card["properties"])
    for status in ("400", "401", "404", "412", "503"):
        outcome = json_body(openapi, operation["responses"][status])
        assert outcome["title"] == "OperationOutcome"


def test_the_feedback_body_and_answer_are_documented(openapi: dict[str, Any]) -> None:
    operation = openapi["paths"][FEEDBACK]["post"]
    variants = operation["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    batch, bare = (resolve(openapi, variant) for variant in variants)
    assert batch["required"] == ["feedback"]
    assert {"card", "outcome", "outcomeTimestamp"} <= set(bare["required"])
    receipt = json_body(openapi, operation["responses"]["200"])
    assert set(receipt["properties"]) == {"received", "stored"}


def test_the_documented_statuses_are_the_ones_sent(
    client: TestClient, openapi: dict[str, Any]
) -> None:
    path = "/cds-services/opioid-order-sign"
    sent = {
        client.post(path, json=hook_request("order-sign")).status_code,
        client.post(path, content=b"{not json").status_code,
        client.post(path, json=hook_request("patient-view")).status_code,
        client.post("/cds-services/nope", json=hook_request("order-sign")).status_code,
        client.get("/cds-services", headers={"Authorization": "Bearer x.y.z"}).status_code,
    }
    assert sent == {200, 400, 401, 404}
    assert {str(status) for status in sent} <= set(openapi["paths"][HOOK]["post"]["responses"])


def test_docs_loads_swagger_ui_from_the_service(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    html = page.text
    scripts_and_styles = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert set(scripts_and_styles) == {
        "/docs/static/swagger-ui-bundle.js",
        "/docs/static/swagger-ui.css",
        "/docs/static/favicon-32x32.png",
    }
    assert "/openapi.json" in html
    for name, media_type in ASSETS.items():
        asset = client.get(f"/docs/static/{name}")
        assert asset.status_code == 200, name
        assert asset.headers["content-type"] == media_type
        assert asset.content
    assert "Apache License" in client.get("/docs/static/LICENSE").text
    assert client.get("/docs/static/index.html").status_code == 404
    assert client.get("/docs/static/..%2Fdocs_ui%2F__init__.py").status_code == 404
    assert client.get("/redoc").status_code == 404  # ReDoc would load from a CDN


def _service(sqlite_url: str, **settings: Any) -> Iterator[TestClient]:
    migrate(sqlite_url)
    with TestClient(create_app(Settings(database_url=sqlite_url, **settings))) as client:
        yield client


def test_the_root_leads_to_the_playground_in_development(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "/playground"
    assert client.get("/").url.path == "/playground"


@pytest.mark.parametrize(
    "settings",
    [
        {"playground": False},
        {
            "environment": "production",
            "audit_secret": "x" * 32,
            "trusted_clients": PROJECT_ROOT / "config" / "trusted-clients.development.yaml",
        },
    ],
    ids=["development-without-playground", "production"],
)
def test_the_root_leads_to_the_docs_without_the_playground(
    sqlite_url: str, settings: dict[str, Any]
) -> None:
    for client in _service(sqlite_url, **settings):
        response = client.get("/", follow_redirects=False)
        assert response.status_code == 307
        assert response.headers["location"] == "/docs"
        assert client.get("/playground").status_code == 404
        assert client.get("/").status_code == 200
