"""The playground in Debian's Chromium, against the service on loopback.

What is asserted is what a user sees: the cards' colours, texts, links and buttons, the
status line, and, for feedback, the row the service stored in its database.
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

import pytest
from playwright.sync_api import expect

from app.playground import FixtureInfo, fixture_infos
from tests.app.playground.conftest import PlaygroundPage

pytestmark = pytest.mark.browser

RULE = "short-acting-opioid"


def _short_acting_fixture() -> FixtureInfo:
    candidates = [info for info in fixture_infos() if RULE in info.must_fire]
    if not candidates:
        pytest.fail(f"no fixture in fhir_fixtures/ is expected to fire {RULE}")
    # The plainest story first: the fixture named after the rule, if there is one.
    candidates.sort(key=lambda info: (not info.name.startswith("short-acting"), info.name))
    return candidates[0]


def test_page_loads_offline_with_fixtures_and_services(playground: PlaygroundPage) -> None:
    playground.open()
    page = playground.page
    fixture_options = page.locator("[data-testid=fixture-select] option").all_inner_texts()
    names = [info.name for info in fixture_infos()]
    assert len(fixture_options) == len(names) + 1  # "Choose a fixture…" first
    assert all(any(text.startswith(name) for text in fixture_options) for name in names)
    services = page.locator("[data-testid=service-select] option").all_inner_texts()
    assert services == [
        "order-select — opioid-order-select",
        "order-sign — opioid-order-sign",
        "patient-view — opioid-patient-view",
    ]
    # A first visitor finds a request that fires a card already loaded: only "Send" is left.
    default = page.input_value("[data-testid=fixture-select]")
    assert default in names
    assert json.loads(page.input_value("[data-testid=request-body]"))["hook"]
    assert playground.external_requests == []
    assert playground.script_errors == []


def test_a_first_visitor_sees_a_card_by_pressing_send(playground: PlaygroundPage) -> None:
    playground.open()
    page = playground.page
    page.click("[data-testid=send]")
    cards = page.locator("[data-testid=card]")
    expect(cards.first).to_be_visible()
    assert cards.first.locator("[data-testid=card-summary]").inner_text().strip()
    # Ctrl+Enter in the request sends it again.
    page.locator("[data-testid=request-body]").press("Control+Enter")
    expect(page.locator("[data-testid=status]")).to_contain_text("HTTP 200")
    assert playground.script_errors == []


def test_a_fixture_that_fires_short_acting_opioid_end_to_end(playground: PlaygroundPage) -> None:
    fixture = _short_acting_fixture()
    playground.open()
    page = playground.page
    page.select_option("[data-testid=fixture-select]", fixture.name)
    # Fixture requests carry their name in hookInstance ("fixture-<name>").
    expect(page.locator("[data-testid=request-body]")).to_have_value(
        re.compile(f'"hookInstance": "fixture-{re.escape(fixture.name)}"')
    )
    assert page.input_value("[data-testid=service-select]") == fixture.service
    page.click("[data-testid=send]")

    card = page.locator(f"[data-testid=card][data-rule-id='{RULE}']")
    card.wait_for(timeout=15000)
    status = page.locator("[data-testid=status]").inner_text()
    assert "HTTP 200" in status
    assert "server " in status and " ms" in status  # the Server-Timing the service reported

    assert card.get_attribute("data-indicator") == "warning"
    assert "card--warning" in (card.get_attribute("class") or "")
    assert card.locator("[data-testid=card-indicator]").inner_text().lower() == "warning"
    assert card.locator("[data-testid=card-summary]").inner_text().strip()
    assert card.locator("[data-testid=card-rule-id]").inner_text() == RULE
    assert card.locator("[data-testid=card-detail]").inner_text().strip()
    links = card.locator("a[data-testid=card-link]")
    assert links.count() >= 1
    for index in range(links.count()):
        link = links.nth(index)
        assert (link.get_attribute("href") or "").startswith("https://")
        assert link.inner_text().strip()

    # The raw request and response are there on demand.
    page.click("[data-testid=raw-response-details] summary")
    raw = page.locator("[data-testid=raw-response]").inner_text()
    assert raw.startswith("HTTP 200")
    body = json.loads(raw[raw.index("{") :])
    fired = [c["source"]["topic"]["code"] for c in body["cards"] if c["source"].get("topic")]
    assert RULE in fired
    page.click("[data-testid=raw-request-details] summary")
    assert (
        f"/cds-services/{fixture.service}" in page.locator("[data-testid=raw-request]").inner_text()
    )

    # Override with the first reason the card offers, as a GP would.
    reasons = card.locator("[data-testid=override-reason] option")
    assert reasons.count() >= 2, "agreement cards offer override reasons"
    reason_label = reasons.nth(1).inner_text()
    card.locator("[data-testid=override-reason]").select_option(label=reason_label)
    card.locator("[data-testid=override]").click()
    feedback_status = card.locator("[data-testid=feedback-status]")
    expect(feedback_status).to_contain_text("stored")
    assert "Overridden" in feedback_status.inner_text()
    assert card.locator("[data-testid=override]").is_disabled()

    card_uuid = card.get_attribute("data-uuid")
    served_card = next(c for c in body["cards"] if c["uuid"] == card_uuid)
    chosen = next(r for r in served_card["overrideReasons"] if r["display"] == reason_label)
    rows = playground.service.query(
        "SELECT service_id, outcome, override_reason_system, override_reason_code "
        "FROM feedback WHERE card_uuid = ?",
        (card_uuid,),
    )
    assert [dict(row) for row in rows] == [
        {
            "service_id": fixture.service,
            "outcome": "overridden",
            "override_reason_system": chosen["system"],
            "override_reason_code": chosen["code"],
        }
    ]
    assert playground.external_requests == []
    assert playground.script_errors == []


HOSTILE_DETAIL = """\
## Waarom deze kaart

Het **oxycodon** recept is _kortwerkend_ en ~~oud~~ `code<b>`.

- eerste punt met [thuisarts](https://www.thuisarts.nl/pijn)
- tweede punt
  1. genest
  2. nog een

<script>window.__pwned = true</script>
<img src=x onerror="window.__pwned = true">
[klik](javascript:window.__pwned=true) en [data](data:text/html,hoi)

| Feit | Waarde |
|---|---:|
| duur | 14 |

```
letterlijk <b>niet vet</b>
```
"""


def _hand_crafted_response() -> dict[str, Any]:
    return {
        "cards": [
            {
                "uuid": "11111111-2222-4333-8444-555555555555",
                "summary": "Kortwerkend opioïd: kies een langwerkende vorm",
                "indicator": "critical",
                "detail": HOSTILE_DETAIL,
                "source": {
                    "label": "Werkafspraken opioïden regio Eemland",
                    "url": "https://example.org/regio",
                    "topic": {"system": "urn:opioid-cds:rule", "code": "short-acting-opioid"},
                },
                "links": [
                    {
                        "label": "Thuisarts",
                        "url": "https://www.thuisarts.nl/pijn",
                        "type": "absolute",
                    },
                    {"label": "Kwaadaardig", "url": "javascript:alert(1)", "type": "absolute"},
                    {"label": "App", "url": "https://app.example/launch", "type": "smart"},
                ],
                "selectionBehavior": "any",
                "suggestions": [
                    {
                        "uuid": "66666666-7777-4888-8999-000000000000",
                        "label": "Beperk tot 7 dagen",
                        "isRecommended": True,
                        "actions": [
                            {
                                "type": "update",
                                "description": "Zet de duur op 7 dagen",
                                "resource": {"resourceType": "MedicationRequest", "id": "m1"},
                            }
                        ],
                    }
                ],
                "overrideReasons": [
                    {
                        "system": "urn:opioid-cds:override-reason",
                        "code": "palliative",
                        "display": "Palliatieve zorg",
                    }
                ],
                "extension": {
                    "nl.opioid-cds.explanation": {
                        "rule_id": "short-acting-opioid",
                        "facts": {"duration_days": 14, "release_type": "immediate"},
                    }
                },
            },
            {"summary": "Info zonder uuid", "indicator": "info", "source": {"label": "Test"}},
        ]
    }


def test_cards_render_markdown_safely_and_offer_feedback(playground: PlaygroundPage) -> None:
    playground.open()
    page = playground.page
    count = page.evaluate(
        "([body, service]) => window.OpioidPlayground.showResponse(body, service)",
        [_hand_crafted_response(), "opioid-order-sign"],
    )
    assert count == 2
    cards = page.locator("[data-testid=card]")
    first, second = cards.nth(0), cards.nth(1)

    assert first.get_attribute("data-indicator") == "critical"
    assert first.locator("[data-testid=card-indicator]").inner_text().lower() == "critical"
    detail = first.locator("[data-testid=card-detail]")
    assert detail.locator("h5").inner_text() == "Waarom deze kaart"
    assert detail.locator("strong").first.inner_text() == "oxycodon"
    assert detail.locator("em").first.inner_text() == "kortwerkend"
    assert detail.locator("s").inner_text() == "oud"
    assert detail.locator("code").first.inner_text() == "code<b>"
    assert detail.locator("ul > li").count() == 2
    assert detail.locator("ul > li ol > li").all_inner_texts() == ["genest", "nog een"]
    assert detail.locator("a").evaluate_all("links => links.map(a => a.href)") == [
        "https://www.thuisarts.nl/pijn"
    ]
    assert detail.locator("table td").all_inner_texts() == ["duur", "14"]
    # CommonMark keeps the line end of a fenced block's last line.
    assert detail.locator("pre code").inner_text() == "letterlijk <b>niet vet</b>\n"
    # Raw HTML is text, never markup, and no hostile link became an anchor: markdown-it
    # leaves a javascript: or data: link as the Markdown text it was.
    assert detail.locator("script, img, b").count() == 0
    assert "<script>window.__pwned = true</script>" in detail.inner_text()
    assert "[klik](javascript:window.__pwned=true)" in detail.inner_text()
    assert page.evaluate("window.__pwned === undefined")

    link_hrefs = first.locator("a[data-testid=card-link]").evaluate_all(
        "links => links.map(a => a.href)"
    )
    assert link_hrefs == ["https://www.thuisarts.nl/pijn"]
    link_texts = first.locator("[data-testid=card-link]").all_inner_texts()
    assert "Kwaadaardig (invalid URL)" in link_texts
    assert "App (SMART app, launched by the HIS)" in link_texts

    suggestion = first.locator("[data-testid=suggestion]")
    assert suggestion.locator("[data-testid=suggestion-label]").inner_text() == "Beperk tot 7 dagen"
    assert "recommended" in suggestion.inner_text()
    assert (
        "Zet de duur op 7 dagen"
        in suggestion.locator("[data-testid=suggestion-action]").inner_text()
    )
    assert first.locator("[data-testid=override-reason] option").all_inner_texts() == [
        "Choose a reason…",
        "Palliatieve zorg",
    ]
    first.locator("[data-testid=card-explanation] summary").click()
    assert "facts.duration_days" in first.locator("[data-testid=card-explanation]").inner_text()

    # A card without uuid cannot get feedback, and says so.
    assert second.locator("[data-testid=override]").is_disabled()
    assert "no uuid" in second.inner_text()

    # Accepting a suggestion sends real feedback that the service stores.
    suggestion.locator("[data-testid=accept-suggestion]").click()
    status = first.locator("[data-testid=feedback-status]")
    expect(status).to_contain_text("stored")
    assert "Accepted “Beperk tot 7 dagen”" in status.inner_text()
    rows = playground.service.query(
        "SELECT outcome, accepted_suggestions FROM feedback WHERE card_uuid = ?",
        ("11111111-2222-4333-8444-555555555555",),
    )
    assert [(row["outcome"], json.loads(row["accepted_suggestions"])) for row in rows] == [
        ("accepted", ["66666666-7777-4888-8999-000000000000"])
    ]
    assert playground.script_errors == []


def test_invalid_json_is_explained_and_not_sent(playground: PlaygroundPage) -> None:
    playground.open()
    page = playground.page
    page.fill("[data-testid=request-body]", '{"hook": "order-sign",')
    page.click("[data-testid=send]")
    status = page.locator("[data-testid=status]")
    assert "not valid JSON" in status.inner_text()
    assert page.locator("[data-testid=raw-request]").inner_text() == ""


def test_a_refused_request_shows_the_operation_outcome(playground: PlaygroundPage) -> None:
    playground.open()
    page = playground.page
    request = {"hook": "order-sign", "hookInstance": "x", "context": {"patientId": "p1"}}
    page.fill("[data-testid=request-body]", json.dumps(request))
    expect(page.locator("[data-testid=request-hint]")).to_contain_text("order-sign")
    assert page.input_value("[data-testid=service-select]") == "opioid-order-sign"
    page.click("[data-testid=send]")
    page.wait_for_selector("[data-testid=http-status]")
    assert page.locator("[data-testid=http-status]").inner_text() == "HTTP 400"
    assert "userId" in page.locator("[data-testid=error-message]").inner_text()
    assert page.locator("[data-testid=card]").count() == 0


MARKDOWN_PIECES = [
    "# ",
    "## ",
    "- ",
    "* ",
    "1. ",
    "  ",
    "    ",
    "\n",
    "\n\n",
    "> ",
    "```",
    "`",
    "**",
    "*",
    "_",
    "__",
    "~~",
    "|",
    "---",
    "[",
    "]",
    "(",
    ")",
    "<",
    ">",
    "\\",
    "https://example.org/a_b",
    "javascript:alert(1)",
    "data:text/html,x",
    "<script>alert(1)</script>",
    "<img src=x>",
    "&amp;",
    "text",
    "woord",
    " ",
    ":-:",
    "![img](https://example.org/x.png)",
    '"',
    "'",
]


def test_markdown_renderer_never_throws_and_only_makes_safe_nodes(
    playground: PlaygroundPage,
) -> None:
    """Random Markdown-ish input: no exception, no hang, only the tags the renderer makes,
    and links only to http(s)."""
    rng = random.Random(20261122)
    samples = [
        "".join(rng.choice(MARKDOWN_PIECES) for _ in range(rng.randint(1, 60))) for _ in range(400)
    ]
    playground.open()
    result = playground.page.evaluate(
        """samples => {
            const tags = new Set(); const hrefs = []; const attributes = new Set();
            for (const sample of samples) {
                const box = document.createElement("div");
                box.appendChild(window.OpioidPlayground.renderMarkdown(sample));
                for (const node of box.querySelectorAll("*")) {
                    tags.add(node.tagName.toLowerCase());
                    for (const attribute of node.attributes) attributes.add(attribute.name);
                    if (node.tagName === "A") hrefs.push(node.getAttribute("href"));
                }
            }
            return {tags: [...tags], hrefs: hrefs, attributes: [...attributes]};
        }""",
        samples,
    )
    allowed = {
        "p", "br", "strong", "em", "s", "code", "pre", "a", "ul", "ol", "li", "blockquote",
        "hr", "h4", "h5", "h6", "div", "table", "thead", "tbody", "tr", "th", "td",
    }  # fmt: skip
    assert set(result["tags"]) <= allowed
    assert set(result["attributes"]) <= {"href", "target", "rel", "class", "start"}
    assert all(href.startswith(("http://", "https://")) for href in result["hrefs"])
    assert playground.script_errors == []
