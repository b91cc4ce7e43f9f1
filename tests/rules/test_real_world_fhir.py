"""Real-world FHIR in, nothing silent out: what a GP or pharmacist sees when an HIS sends what
HISes send, each through the HTTP API from a fixture with one thing changed.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from rules.fixtures import FIXTURES_DIR, load_fixture

ORDER_ID = "MedicationRequest/mr-draft-1"
UCUM = "http://unitsofmeasure.org"


def _fixture(name: str) -> dict[str, Any]:
    request, _ = load_fixture(FIXTURES_DIR / f"{name}.json")
    return request


def _draft(request: dict[str, Any]) -> dict[str, Any]:
    draft: dict[str, Any] = request["context"]["draftOrders"]["entry"][0]["resource"]
    return draft


def _cards(
    api: TestClient, request: dict[str, Any], language: str = "nl"
) -> dict[str, dict[str, Any]]:
    response = api.post(
        f"/cds-services/opioid-{request['hook']}",
        json=request,
        headers={"Accept-Language": language},
    )
    assert response.status_code == 200, response.text
    return {card["source"]["topic"]["code"]: card for card in response.json()["cards"]}


def _period(resource: dict[str, Any]) -> dict[str, Any]:
    period: dict[str, Any] = resource["extension"][0]["valuePeriod"]
    return period


# A count of days no GP writes: four digits or more before "dagen"/"days".
_ABSURD_DAYS = re.compile(r"\d{4,} (dagen|days)")


# --- 1. an open-ended or absurd period of use -------------------------------------------------


@pytest.mark.parametrize("end", ["9998-12-31", "9000-01-01", "2999-01-01"])
@pytest.mark.parametrize(
    ("language", "words"), [("nl", "Opioïd voor onbepaalde tijd"), ("en", "an indefinite period")]
)
def test_a_draft_period_of_use_to_the_far_future_reads_as_no_end(
    api: TestClient, end: str, language: str, words: str
) -> None:
    """HISes write "no end" as 9998-12-31 (or another far date) as well as MP9's 9999-12-31:
    the card said "Opioïd voor 2911738 dagen"."""
    request = _fixture("gp-duration-14-days")
    _period(_draft(request))["end"] = end
    cards = _cards(api, request, language)
    card = cards["gp-duration-limit"]
    assert words in card["summary"]
    assert not _ABSURD_DAYS.search(card["summary"] + card["detail"])
    assert "incomplete-check" not in cards


def test_a_draft_far_end_with_repeats_reads_as_no_end_in_chronic_use(api: TestClient) -> None:
    request = _fixture("chronic-use-oxycodon")
    draft = _draft(request)
    _period(draft)["end"] = "9998-12-31"
    draft["dispenseRequest"]["numberOfRepeatsAllowed"] = 2
    cards = _cards(api, request)
    chronic = cards["chronic-use"]
    assert "dit recept voor onbepaalde tijd" in chronic["summary"]
    assert not _ABSURD_DAYS.search(chronic["summary"] + chronic["detail"])
    assert "gp-duration-limit" in cards


@pytest.mark.parametrize(
    ("language", "words"), [("nl", "meer dan een jaar"), ("en", "more than a year")]
)
def test_a_duration_over_a_year_is_said_in_words(
    api: TestClient, language: str, words: str
) -> None:
    """A supply of a billion days (the facts keep at most 100 years) is not "36500 dagen"."""
    request = _fixture("gp-duration-14-days")
    draft = _draft(request)
    del draft["extension"]
    draft["dispenseRequest"]["expectedSupplyDuration"] = {
        "value": 1e9,
        "unit": "dag",
        "system": "http://unitsofmeasure.org",
        "code": "d",
    }
    card = _cards(api, request, language)["gp-duration-limit"]
    assert words in card["summary"]
    assert words in card["detail"]
    assert not _ABSURD_DAYS.search(card["summary"] + card["detail"])


def test_a_period_of_use_of_a_year_keeps_its_days(api: TestClient) -> None:
    request = _fixture("gp-duration-14-days")
    period = _period(_draft(request))
    start = date.fromisoformat(period["start"])
    period["end"] = (start + timedelta(days=364)).isoformat()
    card = _cards(api, request)["gp-duration-limit"]
    assert "Opioïd voor 365 dagen" in card["summary"]


def test_a_history_agreement_to_the_far_future_is_no_supply_date(api: TestClient) -> None:
    """The previous oxycodon agreement without an end (written 9998-12-31) said "de vorige
    voorraad strekt nog tot 31-12-9998"; with 9999-12-31 its dispense's supply counts."""
    request = _fixture("early-refill")
    prior = request["prefetch"]["medicationRequests"]["entry"][0]["resource"]
    prior["status"] = "active"
    _period(prior)["end"] = "9998-12-31"
    no_end = _fixture("early-refill")
    prior_no_end = no_end["prefetch"]["medicationRequests"]["entry"][0]["resource"]
    prior_no_end["status"] = "active"
    _period(prior_no_end)["end"] = "9999-12-31"
    cards = _cards(api, request)
    assert "9998" not in cards["early-refill"]["summary"]
    assert cards["early-refill"]["summary"] == _cards(api, no_end)["early-refill"]["summary"]


# --- 2. a modifierExtension the service does not know ----------------------------------------

UNKNOWN_MODIFIER = {"url": "http://his.example.nl/fhir/ext/niet-verstrekken", "valueBoolean": True}
STOP_TYPE = {
    "url": "http://nictiz.nl/fhir/StructureDefinition/ext-StopType",
    "valueCodeableConcept": {"coding": [{"system": "http://snomed.info/sct", "code": "410546004"}]},
}


def _incomplete(cards: dict[str, dict[str, Any]]) -> str:
    detail: str = cards["incomplete-check"]["detail"]
    return detail


_MARKER = {
    "nl": (
        " een markering die de beslisondersteuning niet kent en die de betekenis kan veranderen"
        " (bijv. 'gestopt' of 'niet gebruiken'). De kaarten gaan uit van het recept zonder die"
        " markering. Controleer het recept in uw HIS; maak het bij twijfel opnieuw aan."
    ),
    "en": (
        " the decision support does not know, which may change its meaning (e.g. 'stopped',"
        " 'not taken'). The cards assume the order without it. Check the order in your system;"
        " if in doubt, re-enter it."
    ),
}


@pytest.mark.parametrize(
    ("path", "element", "said"),
    [
        (
            (),
            "modifierExtension",
            {
                "nl": "OXYCODON TABLET MGA 10MG (dit recept) bevat" + _MARKER["nl"],
                "en": "OXYCODON TABLET MGA 10MG (this order) carries a marker" + _MARKER["en"],
            },
        ),
        (
            ("dosageInstruction", 0),
            "dosageInstruction.modifierExtension",
            {
                "nl": "OXYCODON TABLET MGA 10MG (dit recept) bevat in de doseerinstructie"
                + _MARKER["nl"],
                "en": "OXYCODON TABLET MGA 10MG (this order) carries a marker in its dosage"
                " instruction that" + _MARKER["en"],
            },
        ),
    ],
)
def test_an_unknown_modifier_extension_on_a_draft_is_named_and_the_order_still_judged(
    api: TestClient,
    caplog: pytest.LogCaptureFixture,
    path: tuple[str | int, ...],
    element: str,
    said: dict[str, str],
) -> None:
    """FHIR: whoever does not know a modifierExtension must not read the resource as if it
    did. The order is still judged as if the marker were absent, so its cards may be wrong:
    the GP is told so in words, and the log names the element, never its URL."""
    request = _fixture("gp-duration-14-days")
    node: Any = _draft(request)
    for part in path:
        node = node[part]
    node["modifierExtension"] = [UNKNOWN_MODIFIER]
    for language in ("nl", "en"):
        cards = _cards(api, request, language)
        assert "gp-duration-limit" in cards
        detail = _incomplete(cards)
        assert f"- {said[language]} — `{ORDER_ID}`" in detail
        assert "not understood" not in detail and "his.example.nl" not in detail
    assert f"incomplete-check: {element}: not_understood" in caplog.text
    assert "his.example.nl" not in caplog.text


def _statement(ident: str, start: str, modifiers: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "MedicationStatement",
        "id": ident,
        "status": "active",
        "modifierExtension": modifiers,
        "medicationCodeableConcept": {
            "coding": [
                {
                    "system": "urn:oid:2.16.840.1.113883.2.4.4.10",
                    "code": "57614",
                    "display": "OXYCODON TABLET MGA 10MG",
                }
            ]
        },
        "subject": {"reference": "Patient/pat-0001"},
        "effectivePeriod": {"start": start},
        "dosage": [
            {
                "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
                "doseAndRate": [{"doseQuantity": {"value": 1, "unit": "stuk", "code": "1"}}],
            }
        ],
    }


@pytest.mark.parametrize(
    ("fixture", "key", "ref"),
    [
        ("chronic-use-oxycodon", "medicationRequests", "MedicationRequest/mr-chronic-0"),
        ("early-refill", "medicationDispenses", "MedicationDispense/md-1"),
        ("chronic-use-oxycodon", "medicationStatements", "MedicationStatement/ms-oxy"),
    ],
)
def test_an_unknown_modifier_extension_in_the_history_is_named(
    api: TestClient, fixture: str, key: str, ref: str
) -> None:
    request = _fixture(fixture)
    bundle = request["prefetch"][key]
    if key == "medicationStatements":
        start = _draft(request)["extension"][0]["valuePeriod"]["start"]
        entry = {"resource": _statement("ms-oxy", start, [UNKNOWN_MODIFIER])}
        bundle.setdefault("entry", []).append(entry)
    baseline = _cards(api, _fixture(fixture))
    resource = next(e["resource"] for e in bundle["entry"] if ref.endswith(e["resource"]["id"]))
    resource.setdefault("modifierExtension", []).append(UNKNOWN_MODIFIER)
    cards = _cards(api, request)
    detail = _incomplete(cards)
    assert "(medicatiegeschiedenis) bevat een markering die de beslisondersteuning niet kent" in (
        detail
    )
    assert f"controleer het in het medicatieoverzicht. — `{ref}`" in detail
    # Still read as before: the cards it gave stay.
    assert set(baseline) <= set(cards)


def test_the_mp9_stop_type_is_understood(api: TestClient) -> None:
    """ext-StopType ends a treatment (definitions §1 History): known, so never named."""
    request = _fixture("chronic-use-oxycodon")
    prior = request["prefetch"]["medicationRequests"]["entry"][0]["resource"]
    prior["modifierExtension"] = [STOP_TYPE]
    assert "incomplete-check" not in _cards(api, request)


# --- 3. a morphine pump: its days from the cassette and the rate ------------------------------


def _pump_request() -> dict[str, Any]:
    """Morphine 10 mg/ml s.c. at 0.5 ml/h from a 100 ml cassette, no period of use."""
    request = _fixture("gp-duration-14-days")
    draft = _draft(request)
    del draft["extension"]  # no period of use: the cassette is all that says how long
    draft["medicationCodeableConcept"] = {"text": "MORFINE HCL INJVLST 10MG/ML"}
    draft["dosageInstruction"] = [
        {
            "timing": {"code": {"text": "continu"}},
            "route": {"coding": [{"system": "http://snomed.info/sct", "code": "34206005"}]},
            "doseAndRate": [
                {"rateQuantity": {"value": 0.5, "unit": "ml/uur", "system": UCUM, "code": "mL/h"}}
            ],
        }
    ]
    draft["dispenseRequest"] = {
        "quantity": {"value": 100, "unit": "ml", "system": UCUM, "code": "mL"}
    }
    return request


def test_a_morphine_pump_cassette_gives_the_days_a_pharmacist_counts(api: TestClient) -> None:
    """Morphine 10 mg/ml s.c. at 0.5 ml/h from a 100 ml cassette: 12 ml a day, 9 days. The
    order's duration was unknown (rule 7 said so) and the GP's week went unchecked."""
    cards = _cards(api, _pump_request())
    duration_card = cards["gp-duration-limit"]
    assert "Opioïd voor 9 dagen (volgens de hoeveelheid" in duration_card["summary"]
    # Not read as a prescribed duration: none was written on the order (GP review).
    assert (
        "9 dagen (volgens de hoeveelheid; geen gebruiksduur op het recept)"
        in duration_card["detail"]
    )
    missing = cards.get("missing-indication-or-duration", {"summary": ""})
    assert "duur" not in missing["summary"]


@pytest.mark.parametrize(
    ("language", "said"),
    [
        ("nl", "Gebruiksduur 7 dagen, 0 herhalingen; de hoeveelheid is niet aangepast"),
        ("en", "Duration 7 days, 0 repeats; the quantity is unchanged"),
    ],
)
def test_limiting_a_pump_does_not_claim_its_quantity_was_adjusted(
    api: TestClient, language: str, said: str
) -> None:
    """The cassette's 100 ml stays 100 ml (no daily use in units to scale it by): the
    suggestion said "hoeveelheid daarop aangepast"."""
    card = _cards(api, _pump_request(), language)["gp-duration-limit"]
    action = card["suggestions"][0]["actions"][0]
    assert action["description"] == said
    assert action["resource"]["dispenseRequest"]["quantity"]["value"] == 100
    tablets = _cards(api, _fixture("gp-duration-14-days"), language)["gp-duration-limit"]
    adjusted = tablets["suggestions"][0]["actions"][0]["description"]
    assert "aangepast" in adjusted if language == "nl" else "adjusted" in adjusted
    assert "niet aangepast" not in adjusted and "unchanged" not in adjusted
