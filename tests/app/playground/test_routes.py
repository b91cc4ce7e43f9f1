"""The playground's HTTP surface: the page, its assets and the fixtures, without a browser."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.playground import fixture_infos, load_fixture_request
from app.routes.playground import DEFAULT_FIXTURE
from app.services import SERVICES
from rules.catalogue import ReleaseType, load_catalogue

# The only URLs the page's scripts may contain: FHIR identifiers that order.js writes.
FHIR_IDENTIFIERS = (
    "http://nictiz.nl/fhir/StructureDefinition/ext-TimeInterval.Period",
    "http://hl7.org/fhir/StructureDefinition/iso21090-PQ-translation",
    "http://unitsofmeasure.org",
)
VENDOR = Path(__file__).resolve().parents[3] / "app" / "playground" / "vendor"
MODULES = ["playground.js", "cards.js", "dom.js", "markdown.js", "order.js", "ehr.js"]
VENDORED = ["vendor/markdown-it.umd.min.js", "vendor/purify.min.js"]

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
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert "<title>Opioid CDS playground</title>" in response.text
    assert 'src="playground/static/playground.js" type="module"' in response.text
    for vendored in VENDORED:
        assert f'src="playground/static/{vendored}"' in response.text


@pytest.mark.parametrize(
    ("name", "content_type"),
    [*((name, "text/javascript") for name in MODULES + VENDORED), ("playground.css", "text/css")],
)
def test_assets_are_served(client: TestClient, name: str, content_type: str) -> None:
    response = client.get(f"/playground/static/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(content_type)
    assert response.headers["x-content-type-options"] == "nosniff"


def test_the_vendored_files_are_the_pinned_releases_with_their_licences(
    client: TestClient,
) -> None:
    pins = json.loads((VENDOR / "package.json").read_text(encoding="utf-8"))["dependencies"]
    # markdown-it's UMD build carries no version banner; DOMPurify's does.
    purify = client.get("/playground/static/vendor/purify.min.js").text
    assert purify.startswith(f"/*! @license DOMPurify {pins['dompurify']} ")
    lock = json.loads((VENDOR / "package-lock.json").read_text(encoding="utf-8"))["packages"]
    for package, version in pins.items():
        assert lock[f"node_modules/{package}"]["version"] == version
    for licence in ["markdown-it.LICENSE", "dompurify.LICENSE", "dompurify.LICENSE-MPL"]:
        assert (VENDOR / licence).stat().st_size > 500


@pytest.mark.parametrize(
    "path",
    ["index.html", "..%2Fcli.py", "__init__.py", "nope.js", "vendor/README.md",
     "vendor/package.json", "vendor%2F..%2F__init__.py", "order_choices.py"],
)  # fmt: skip
def test_only_the_known_assets_are_served(client: TestClient, path: str) -> None:
    response = client.get(f"/playground/static/{path}")
    assert response.status_code == 404
    assert response.json()["resourceType"] == "OperationOutcome"


@pytest.mark.parametrize(
    "asset",
    ["/playground", "/playground/static/playground.css",
     *(f"/playground/static/{name}" for name in MODULES)],
)  # fmt: skip
def test_page_loads_nothing_from_elsewhere(client: TestClient, asset: str) -> None:
    text = client.get(asset).text
    # FHIR names things with URLs (extensions, code systems): identifiers, never fetched.
    for identifier in FHIR_IDENTIFIERS:
        text = text.replace(identifier, "")
    assert EXTERNAL_URL.findall(text) == []
    assert "@import" not in text
    assert ".innerHTML" not in text  # everything is built with createElement/textContent


def test_fixture_list_names_every_fixture_and_the_services(client: TestClient) -> None:
    body = client.get("/playground/fixtures").json()
    assert [service["id"] for service in body["services"]] == list(SERVICES)
    expected = fixture_infos()
    assert [fixture["name"] for fixture in body["fixtures"]] == [info.name for info in expected]
    # The README's example, by name: a GP prescribing short-acting oxycodone.
    assert body["defaultFixture"] == DEFAULT_FIXTURE == "short-acting-oxycodon-tablet"
    default = next(info for info in expected if info.name == DEFAULT_FIXTURE)
    assert default.must_fire == ("short-acting-opioid",)
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


def test_the_catalogue_offers_every_product_with_its_fhir_system(client: TestClient) -> None:
    body = client.get("/playground/catalogue").json()
    catalogue = load_catalogue()
    products = {(p["systemKey"], p["code"]): p for p in body["products"]}
    assert set(products) == {(p.system, p.code) for p in catalogue.products()}
    oxycodone = products[("gstandaard_prk", "102059")]
    assert oxycodone["system"] == "urn:oid:2.16.840.1.113883.2.4.4.10"
    assert oxycodone["display"] == "OXYCODON TABLET 10MG"
    assert oxycodone["releaseType"] == ReleaseType.SHORT_ACTING.value
    assert oxycodone["isOpioid"] is True
    # A URI the form writes is one the service reads back as the same product.
    for product in body["products"]:
        assert catalogue.system_key(product["system"]) == product["systemKey"]
    assert any(not p["isOpioid"] for p in body["products"])  # benzodiazepines, naloxone


def test_the_catalogue_offers_indication_codes_of_the_condition_sets(client: TestClient) -> None:
    body = client.get("/playground/catalogue").json()
    catalogue = load_catalogue()
    indications = body["indications"]
    assert indications, "the order form needs indications to offer"
    for item in indications:
        assert catalogue.system_key(item["system"]) == item["systemKey"]
        assert item["set"] in catalogue.condition_sets(item["systemKey"], item["code"])
    back_pain = next(i for i in indications if i["systemKey"] == "icpc" and i["code"] == "L03")
    assert back_pain["set"] == "bony_musculoskeletal_pain"
