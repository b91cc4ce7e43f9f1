"""The playground as an EHR, in Debian's Chromium: the README's example, the patient and order
strip, the order form that re-sends, accepted suggestions applied to the draft, expected vs
fired rules, copy as curl, and card Markdown through markdown-it and DOMPurify.

Screenshots go to the test's temporary folder (`--basetemp` to keep them).
"""

from __future__ import annotations

import json
import re
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from app.playground import load_fixture_request
from app.routes.playground import DEFAULT_FIXTURE
from tests.app.playground.conftest import PlaygroundPage

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[3]
GP_DURATION = "gp-duration-limit"
# A GP's long-acting oxycodone for 5 days, sent on order-sign: the GP duration rule is silent.
FIVE_DAYS_BY_A_GP = "common-path-oxycodon-mga-5-days"


def _readme_walkthrough() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### See a card in two minutes", 1)[1]
    return section.split("\n###", 1)[0].split("Without a server", 1)[0]


def _request(page: Page) -> dict[str, Any]:
    return dict(json.loads(page.input_value("[data-testid=request-body]")))


def _draft(request: dict[str, Any]) -> dict[str, Any]:
    return dict(request["context"]["draftOrders"]["entry"][0]["resource"])


def _period(draft: dict[str, Any]) -> dict[str, str]:
    [extension] = [e for e in draft["extension"] if e["url"].endswith("ext-TimeInterval.Period")]
    return dict(extension["valuePeriod"])


def _days(period: dict[str, str]) -> int:
    return (date.fromisoformat(period["end"]) - date.fromisoformat(period["start"])).days + 1


def _age(birth_date: str) -> int:
    born, today = date.fromisoformat(birth_date), date.today()
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def test_the_readme_example_word_for_word(playground: PlaygroundPage, tmp_path: Path) -> None:
    walkthrough = " ".join(_readme_walkthrough().split())
    [summary] = re.findall(r'"(Kortwerkend opioïd: [^"]+)"', walkthrough)
    playground.open()
    page = playground.page
    assert page.input_value("[data-testid=fixture-select]") == DEFAULT_FIXTURE

    # The strip shows the preloaded request's patient and order before anything is sent.
    request, _info = load_fixture_request(DEFAULT_FIXTURE, today=date.today())
    strip = page.locator("[data-testid=order-strip]")
    expect(strip.locator("[data-testid=strip-age]")).to_have_text(
        f"{_age(request['prefetch']['patient']['birthDate'])} y"
    )
    assert strip.locator("[data-testid=strip-sex]").inner_text() == "female"
    assert strip.locator("[data-testid=strip-product]").inner_text() == "OXYCODON TABLET 10MG"
    assert strip.locator("[data-testid=strip-dose]").inner_text() == "1 stuk"
    assert strip.locator("[data-testid=strip-frequency]").inner_text() == "3× per day"
    assert strip.locator("[data-testid=strip-duration]").inner_text() == "5 days (period of use)"
    role = strip.locator("[data-testid=strip-role]").inner_text()
    assert role == "Huisartsen, niet nader gespecificeerd"

    # "Press **Send request**: an orange *Warning* card appears — "<summary>" — with the
    # regional page as a link, the reasons a GP may give to override it, and *Why this card?*"
    assert "Press **Send request**" in walkthrough
    page.get_by_role("button", name="Send request").click()
    cards = page.locator("[data-testid=card]")
    expect(cards).to_have_count(1)
    card = cards.first
    assert card.get_attribute("data-indicator") == "warning"
    assert card.locator("[data-testid=card-summary]").inner_text() == summary
    assert card.locator("a[data-testid=card-link]").count() >= 1
    assert card.locator("[data-testid=override-reason] option").count() >= 2
    assert "Why this card?" in walkthrough
    assert (
        card.locator("[data-testid=card-explanation] summary")
        .inner_text()
        .startswith("Why this card?")
    )
    # The fixture's expectations next to what fired.
    expected = page.locator("[data-testid=expectation][data-rule-id=short-acting-opioid]")
    assert "✓" in expected.locator("[data-testid=verdict]").inner_text()
    assert page.locator("[data-testid=expectation] >> text=✗").count() == 0
    # Every control the walkthrough names by its label is on the page.
    for label in re.findall(r"\*\*([A-Z][^*]+)\*\*", walkthrough):
        if label != "Send request" and not label.startswith("<"):
            assert page.get_by_text(label).count() >= 1, label
    page.screenshot(path=str(tmp_path / "readme-example.png"), full_page=True)
    assert playground.external_requests == []
    assert playground.script_errors == []


def test_the_order_form_resends_and_an_accepted_suggestion_changes_the_draft(
    playground: PlaygroundPage, tmp_path: Path
) -> None:
    _request_data, info = load_fixture_request(FIVE_DAYS_BY_A_GP, today=date.today())
    assert info.service == "opioid-order-sign"
    assert GP_DURATION in info.must_not_fire
    playground.open()
    page = playground.page
    page.select_option("[data-testid=fixture-select]", FIVE_DAYS_BY_A_GP)
    expect(page.locator("[data-testid=request-body]")).to_have_value(
        re.compile(f'"hookInstance": "fixture-{FIVE_DAYS_BY_A_GP}"')
    )
    duration = page.locator("[data-testid=order-duration]")
    expect(duration).to_have_value("5")
    page.click("[data-testid=send]")
    expect(page.locator("[data-testid=status]")).to_contain_text("HTTP 200")
    gp_card = page.locator(f"[data-testid=card][data-rule-id={GP_DURATION}]")
    assert gp_card.count() == 0

    # 5 → 14 days: the request changes and is sent again without pressing Send.
    duration.fill("14")
    expect(gp_card).to_have_count(1)
    assert _days(_period(_draft(_request(page)))) == 14
    strip_duration = page.locator("[data-testid=strip-duration]")
    assert strip_duration.inner_text() == "14 days (period of use)"
    verdict = page.locator(f"[data-testid=expectation][data-rule-id={GP_DURATION}]")
    expect(verdict.locator("[data-testid=verdict]")).to_contain_text("✗")
    expect(page.locator("[data-testid=expectations-edited]")).to_be_visible()
    page.screenshot(path=str(tmp_path / "fourteen-days.png"), full_page=True)

    # Accept "limit to 7 days": the draft becomes the suggestion's resource and is re-sent.
    suggestion = gp_card.locator("[data-testid=suggestion]").first
    card_uuid = gp_card.get_attribute("data-uuid")
    suggestion.locator("[data-testid=accept-suggestion]").click()
    expect(gp_card).to_have_count(0)
    expect(duration).to_have_value("7")
    assert strip_duration.inner_text() == "7 days (period of use)"
    draft = _draft(_request(page))
    assert _days(_period(draft)) == 7
    assert draft["dispenseRequest"]["numberOfRepeatsAllowed"] == 0
    expect(page.locator("[data-testid=ehr-log]")).to_contain_text(
        f"MedicationRequest/{draft['id']} updated"
    )
    expect(verdict).to_have_count(1)
    assert "✓" in verdict.locator("[data-testid=verdict]").inner_text()
    rows = playground.service.query(
        "SELECT outcome FROM feedback WHERE card_uuid = ?", (card_uuid,)
    )
    assert [row["outcome"] for row in rows] == ["accepted"]
    page.screenshot(path=str(tmp_path / "accepted.png"), full_page=True)
    assert playground.external_requests == []
    assert playground.script_errors == []


def _card(suggestion: dict[str, Any], detail: str = "Geen details.") -> dict[str, Any]:
    return {
        "uuid": "21111111-2222-4333-8444-555555555555",
        "summary": "Testkaart",
        "indicator": "info",
        "detail": detail,
        "source": {"label": "Test"},
        "suggestions": [suggestion],
    }


def test_create_and_delete_actions_change_the_draft_orders(playground: PlaygroundPage) -> None:
    playground.open()
    page = playground.page
    draft_id = _draft(_request(page))["id"]
    naloxone = {"resourceType": "MedicationRequest", "status": "draft", "intent": "proposal",
                "medicationCodeableConcept": {"text": "Naloxon neusspray"},
                "subject": {"reference": "Patient/pat-0001"}}  # fmt: skip
    action = {"type": "create", "description": "naloxon", "resource": naloxone}
    create = {"uuid": "31111111-2222-4333-8444-555555555555", "label": "Naloxon erbij",
              "actions": [action]}  # fmt: skip
    page.evaluate(
        "([body, service]) => window.OpioidPlayground.showResponse(body, service)",
        [{"cards": [_card(create)]}, "opioid-order-select"],
    )
    page.click("[data-testid=accept-suggestion]")
    expect(page.locator("[data-testid=ehr-log]")).to_contain_text("created")
    entries = _request(page)["context"]["draftOrders"]["entry"]
    assert [e["resource"]["medicationCodeableConcept"]["text"] for e in entries][1:] == [
        "Naloxon neusspray"
    ]
    expect(page.locator("[data-testid=status]")).to_contain_text("HTTP 200")  # sent again

    delete = {"uuid": "41111111-2222-4333-8444-555555555555", "label": "Weg ermee",
              "actions": [{"type": "delete", "description": "weg",
                           "resourceId": f"MedicationRequest/{draft_id}"}]}  # fmt: skip
    card = _card(delete) | {"uuid": "51111111-2222-4333-8444-555555555555"}
    page.evaluate(
        "([body, service]) => window.OpioidPlayground.showResponse(body, service)",
        [{"cards": [card]}, "opioid-order-select"],
    )
    page.click("[data-testid=accept-suggestion]")
    expect(page.locator("[data-testid=ehr-log]")).to_contain_text("deleted")
    request = _request(page)
    remaining = [e["resource"]["id"] for e in request["context"]["draftOrders"]["entry"]]
    assert draft_id not in remaining and len(remaining) == 1
    assert f"MedicationRequest/{draft_id}" not in request["context"]["selections"]
    assert playground.script_errors == []


def test_markdown_renders_and_a_script_in_a_detail_stays_inert(
    playground: PlaygroundPage,
) -> None:
    detail = (
        "Zie **de werkafspraak** op [de regiopagina](https://example.org/eemland).\n\n"
        "<script>window.__pwned = 1</script>\n\n"
        '<img src="x" onerror="window.__pwned = 2">'
    )
    playground.open()
    page = playground.page
    pins = json.loads((ROOT / "app/playground/vendor/package.json").read_text(encoding="utf-8"))
    assert page.evaluate("window.DOMPurify.version") == pins["dependencies"]["dompurify"]
    page.evaluate(
        "([body, service]) => window.OpioidPlayground.showResponse(body, service)",
        [{"cards": [_card({"label": "niets", "actions": []}, detail)]}, "opioid-order-select"],
    )
    rendered = page.locator("[data-testid=card-detail]")
    assert rendered.locator("strong").inner_text() == "de werkafspraak"
    link = rendered.locator("a")
    assert link.get_attribute("href") == "https://example.org/eemland"
    assert link.get_attribute("rel") == "noopener noreferrer"
    assert page.locator("[data-testid=cards] script, [data-testid=cards] img").count() == 0
    assert "<script>window.__pwned = 1</script>" in rendered.inner_text()
    assert page.evaluate("window.__pwned === undefined")
    assert playground.script_errors == []


def test_copy_as_curl_sends_the_same_request(playground: PlaygroundPage) -> None:
    playground.open()
    page = playground.page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.select_option("[data-testid=language-select]", "en")
    page.click("[data-testid=send]")
    expect(page.locator("[data-testid=status]")).to_contain_text("HTTP 200")
    shown = page.locator("[data-testid=card]").evaluate_all(
        "cards => cards.map(card => card.getAttribute('data-rule-id'))"
    )
    page.click("[data-testid=copy-curl]")
    expect(page.locator("[data-testid=curl-status]")).to_have_text("Copied to the clipboard.")
    command = page.locator("[data-testid=curl-command]").inner_text()
    assert page.evaluate("navigator.clipboard.readText()") == command
    assert "Accept-Language: en" in command

    result = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=30, check=True
    )
    body = json.loads(result.stdout)
    assert [card["source"]["topic"]["code"] for card in body["cards"]] == shown
    assert playground.script_errors == []
