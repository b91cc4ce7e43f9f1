"""Every FHIR fixture through the HTTP API: the rules it must fire fire, the others stay silent.

The requests are posted as an EHR would send them (dates moved to today by the fixture
loader), so this covers the whole path: JSON parsing, prefetch, facts, rules and cards.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.medicationrequest import MedicationRequest

from rules.cards.render import EXPLANATION_KEY
from rules.fixtures import list_fixtures, load_fixture
from rules.rulesets import RuleSet

FIXTURES = list_fixtures()


def _post(api: TestClient, path: Path) -> tuple[dict[str, Any], list[str], Any]:
    request, expectation = load_fixture(path)
    response = api.post(
        f"/cds-services/{expectation.service}",
        json=request,
        headers={"Accept-Language": "en" if expectation.language == "en" else "nl-NL,nl;q=0.9"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    fired = [card["source"]["topic"]["code"] for card in body["cards"]]
    return body, fired, expectation


@pytest.mark.parametrize("path", FIXTURES, ids=[path.stem for path in FIXTURES])
def test_fixture_fires_exactly_what_it_expects(api: TestClient, path: Path) -> None:
    body, fired, expectation = _post(api, path)
    missing = sorted(set(expectation.must_fire) - set(fired))
    unexpected = sorted(set(expectation.must_not_fire) & set(fired))
    assert not missing and not unexpected, (
        f"{path.stem}: missing {missing}, unexpected {unexpected}; fired {fired}"
    )
    assert len(fired) == len(set(fired)), "a rule fires at most once per call"
    for card in body["cards"]:
        assert len(card["summary"]) < 140
        explanation = card["extension"][EXPLANATION_KEY]
        assert explanation["rule_id"] == card["source"]["topic"]["code"]
        if card.get("suggestions"):
            assert card["selectionBehavior"] in ("any", "at-most-one")
        if expectation.language == "en":
            assert "Werkafspraken" not in card["source"]["label"]


def test_every_rule_has_a_firing_and_a_non_firing_fixture(ruleset: RuleSet) -> None:
    fire: set[str] = set()
    silent: set[str] = set()
    for path in FIXTURES:
        _, expectation = load_fixture(path)
        fire.update(expectation.must_fire)
        silent.update(expectation.must_not_fire)
    assert set(ruleset.rules) <= fire, sorted(set(ruleset.rules) - fire)
    assert set(ruleset.rules) <= silent, sorted(set(ruleset.rules) - silent)


def test_the_common_clinical_path_fires_no_agreement_rule_at_all(api: TestClient) -> None:
    [path] = [p for p in FIXTURES if p.stem == "common-path-oxycodon-mga-5-days"]
    body, fired, _ = _post(api, path)
    assert fired == []
    assert body == {"cards": []}


def test_the_gp_duration_card_as_the_gp_sees_it(api: TestClient) -> None:
    [path] = [p for p in FIXTURES if p.stem == "gp-duration-14-days"]
    body, _, _ = _post(api, path)
    [card] = body["cards"]
    assert card["summary"] == "Opioïd voor 14 dagen: huisarts schrijft maximaal 7 dagen voor"
    assert "OXYCODON TABLET MGA 10MG" in card["detail"]
    limit, *reasons = card["suggestions"]
    assert reasons[0]["label"] == ("Reden op recept: overdracht van medisch specialist ontvangen")
    suggestion = limit
    [action] = suggestion["actions"]
    assert action["type"] == "update"
    assert action["resource"]["id"] == "mr-draft-1"
    assert action["resource"]["dispenseRequest"]["quantity"]["value"] == 14
    explanation = card["extension"][EXPLANATION_KEY]
    assert explanation["facts"]["orders"][0]["duration_days"] == 14
    assert explanation["facts"]["orders"][0]["duration_source"] == "period_of_use"


def test_the_practice_overlay_applies_to_that_practice_only(api: TestClient) -> None:
    by_name = {path.stem: path for path in FIXTURES}
    _, fired_overlay, _ = _post(api, by_name["gp-6-days-practice-max-5"])
    _, fired_region, _ = _post(api, by_name["gp-6-days-region-default"])
    assert "gp-duration-limit" in fired_overlay
    assert "gp-duration-limit" not in fired_region


def test_barneveld_patients_are_routed_to_the_zorgprogrammacoordinator(api: TestClient) -> None:
    by_name = {path.stem: path for path in FIXTURES}
    barneveld, _, _ = _post(api, by_name["chronic-use-barneveld"])
    amersfoort, _, _ = _post(api, by_name["chronic-use-oxycodon"])

    def labels(body: dict[str, Any]) -> str:
        [card] = [c for c in body["cards"] if c["source"]["topic"]["code"] == "chronic-use"]
        return " | ".join(s["label"] for s in card["suggestions"])

    # Opioid use disorder: addiction care first, through the coordinator in Barneveld.
    assert labels(barneveld).startswith("Verwijzen/consulteren: Zorgprogrammacoördinator GGZ")
    assert "Gespecialiseerde verslavingszorg" not in labels(barneveld)
    # No use disorder in Amersfoort: the practice's own POH-GGZ first, no addiction care.
    assert labels(amersfoort).startswith("Verwijzen/consulteren: POH-GGZ (in de eigen praktijk)")
    assert "verslavingszorg" not in labels(amersfoort).lower()


def test_no_patient_identifiers_reach_the_explanation(api: TestClient) -> None:
    for path in FIXTURES:
        body, _, _ = _post(api, path)
        for card in body["cards"]:
            text = str(card["extension"])
            assert "999908510" not in text  # BSN
            assert "Testpatiënt" not in text  # name


def test_the_pregnancy_warning_is_the_first_card(api: TestClient) -> None:
    [path] = [p for p in FIXTURES if p.stem == "pregnancy-tramadol"]
    body, fired, _ = _post(api, path)
    assert fired[0] == "pregnancy"
    assert "short-acting-opioid" in fired[1:]
    short_acting = body["cards"][fired.index("short-acting-opioid")]
    # Tramadol's own long-acting form, never a stronger opioid.
    assert "tramadol" in short_acting["detail"].lower()
    assert "oxycodon" not in short_acting["detail"].lower()


@pytest.mark.parametrize("path", FIXTURES, ids=[path.stem for path in FIXTURES])
def test_every_update_suggestion_is_a_valid_r4_medication_request(
    api: TestClient, path: Path
) -> None:
    """The service validates a draft once per call and trusts its own changes to it: here
    every changed order of every fixture is validated."""
    body, _, _ = _post(api, path)
    for card in body["cards"]:
        for suggestion in card.get("suggestions", []):
            for action in suggestion["actions"]:
                if action["type"] == "update":
                    MedicationRequest.model_validate(action["resource"])
