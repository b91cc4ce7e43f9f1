"""The playground's HTTP surface: the page, its assets and the fixtures, without a browser."""

from __future__ import annotations

import re
from datetime import date

import pytest
from fastapi.testclient import TestClient

from app.playground import fixture_infos, load_fixture_request
from app.services import SERVICES

# Any absolute or protocol-relative URL with a host name: the page must load nothing from
# anywhere else (no CDN, no web fonts), so none may appear in its files.
EXTERNAL_URL = re.compile(r"(?:https?:)?//[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+", re.IGNORECASE)


def test_page_is_served_with_a_strict_content_security_policy(client: TestClient) -> None:
    response = client.get("/playground")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self'" in policy
    assert "connect-src 'self'" in policy
    assert "<title>Opioid CDS playground</title>" in response.text
    assert 'src="playground/static/playground.js"' in response.text


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("playground.js", "text/javascript"), ("playground.css", "text/css")],
)
def test_assets_are_served(client: TestClient, name: str, content_type: str) -> None:
    response = client.get(f"/playground/static/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(content_type)
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", ["index.html", "..%2Fcli.py", "__init__.py", "nope.js"])
def test_only_the_known_assets_are_served(client: TestClient, path: str) -> None:
    response = client.get(f"/playground/static/{path}")
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(
    "asset",
    ["/playground", "/playground/static/playground.js", "/playground/static/playground.css"],
)
def test_page_loads_nothing_from_elsewhere(client: TestClient, asset: str) -> None:
    text = client.get(asset).text
    assert EXTERNAL_URL.findall(text) == []
    assert "@import" not in text
    assert ".innerHTML" not in text  # everything is built with createElement/textContent


def test_fixture_list_names_every_fixture_and_the_services(client: TestClient) -> None:
    body = client.get("/playground/fixtures").json()
    assert [service["id"] for service in body["services"]] == list(SERVICES)
    expected = fixture_infos()
    assert [fixture["name"] for fixture in body["fixtures"]] == [info.name for info in expected]
    default = next(info for info in expected if "short-acting-opioid" in info.must_fire)
    assert body["defaultFixture"] == default.name
    for fixture in body["fixtures"]:
        assert fixture["service"] in SERVICES
        assert fixture["hook"] == SERVICES[fixture["service"]].hook
        assert fixture["description"]


def test_a_fixture_comes_with_its_dates_shifted_to_today(client: TestClient) -> None:
    infos = fixture_infos()
    if not infos:
        pytest.fail("no fixtures in fhir_fixtures/: the playground has nothing to offer")
    name = infos[0].name
    body = client.get(f"/playground/fixtures/{name}").json()
    request, info = load_fixture_request(name, today=date.today())
    assert body["request"] == request
    assert body["service"] == info.service
    assert body["request"]["hook"] == info.hook


@pytest.mark.parametrize("name", ["does-not-exist", "..%2F..%2Fetc%2Fpasswd", "eemland.yaml"])
def test_an_unknown_fixture_is_a_404(client: TestClient, name: str) -> None:
    response = client.get(f"/playground/fixtures/{name}")
    assert response.status_code == 404
