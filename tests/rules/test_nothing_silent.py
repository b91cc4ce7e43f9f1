"""Nothing silent (issue 12): what the service cannot read, it says.

The red team's requests, each through the HTTP API from `gp-duration-14-days.json` (a GP's
oxycodone agreement of 14 days: `gp-duration-limit` fires): every drafted opioid still gets its
cards or an `incomplete-check` card naming what was not checked, and never a 5xx.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.evaluation import load_evaluator
from app.settings import Settings
from cds_hooks.draft_orders import DraftOrders
from rules.engine import EvaluationInput
from rules.fixtures import FIXTURES_DIR, load_fixture

ORDER_ID = "MedicationRequest/mr-draft-1"
UCUM = "http://unitsofmeasure.org"


def _request() -> dict[str, Any]:
    request, _ = load_fixture(FIXTURES_DIR / "gp-duration-14-days.json")
    return request


def _draft(request: dict[str, Any]) -> dict[str, Any]:
    draft: dict[str, Any] = request["context"]["draftOrders"]["entry"][0]["resource"]
    return draft


def _cards(api: TestClient, request: dict[str, Any]) -> dict[str, dict[str, Any]]:
    response = api.post(f"/cds-services/opioid-{request['hook']}", json=request)
    assert response.status_code == 200, response.text
    return {card["source"]["topic"]["code"]: card for card in response.json()["cards"]}


def _has_update(card: dict[str, Any]) -> bool:
    return any(
        action["type"] == "update"
        for suggestion in card.get("suggestions", [])
        for action in suggestion.get("actions", [])
    )


def test_the_unchanged_request_is_complete(api: TestClient) -> None:
    cards = _cards(api, _request())
    assert "gp-duration-limit" in cards
    assert "incomplete-check" not in cards


def test_max_dose_per_period_of_1e_320_seconds_keeps_the_cards(api: TestClient) -> None:
    """The period underflows to zero days: only that maximum is unknown, the order is read."""
    request = _request()
    _draft(request)["dosageInstruction"][0]["maxDosePerPeriod"] = {
        "numerator": {"value": 4, "unit": "stuk", "system": UCUM, "code": "1"},
        "denominator": {"value": 1e-320, "unit": "s", "system": UCUM, "code": "s"},
    }
    cards = _cards(api, request)
    assert "gp-duration-limit" in cards
    assert _has_update(cards["gp-duration-limit"])


@pytest.mark.parametrize("start", ["garbage", "2026-13-45", "9999-12-31", "10000-01-01"])
def test_an_unreadable_period_start_uses_the_next_source_and_says_so(
    api: TestClient, start: str
) -> None:
    """The period of use gives no duration; 28 tablets at 2 a day (14 days) still exceed the
    GP's week, the suggestion is still built, and the incomplete-check card names the period."""
    request = _request()
    _draft(request)["extension"][0]["valuePeriod"]["start"] = start
    cards = _cards(api, request)
    assert "gp-duration-limit" in cards
    assert _has_update(cards["gp-duration-limit"])
    incomplete = cards["incomplete-check"]
    assert incomplete["indicator"] == "info"
    assert "gebruiksduur: niet leesbaar" in incomplete["detail"]
    assert ORDER_ID in incomplete["detail"]
    assert start not in incomplete["detail"]  # the card names the source, not the value


def test_an_end_of_9999_12_31_means_no_end(api: TestClient) -> None:
    request = _request()
    _draft(request)["extension"][0]["valuePeriod"]["end"] = "9999-12-31"
    cards = _cards(api, request)
    assert "gp-duration-limit" in cards
    assert "incomplete-check" not in cards


def test_a_draft_field_nested_500_deep_is_reported_and_the_rest_runs(api: TestClient) -> None:
    request = _request()
    node: dict[str, Any] = {"valueString": "x"}
    for _ in range(250):  # a dict and a list per step: 500 levels
        node = {"url": "http://example.org/nested", "extension": [node]}
    _draft(request)["note"] = [{"text": "notitie", "extension": [node]}]
    cards = _cards(api, request)
    assert "gp-duration-limit" in cards
    assert "te diep genest, niet gelezen" in cards["incomplete-check"]["detail"]


def test_an_unresolvable_medication_reference_is_named(api: TestClient) -> None:
    request = _request()
    draft = _draft(request)
    del draft["medicationCodeableConcept"]
    draft["medicationReference"] = {"reference": "Medication/not-in-the-request"}
    cards = _cards(api, request)
    detail = cards["incomplete-check"]["detail"]
    assert "geneesmiddel niet gevonden" in detail
    assert ORDER_ID in detail


def test_an_unresolvable_history_medication_is_named(api: TestClient) -> None:
    request, _ = load_fixture(FIXTURES_DIR / "chronic-use-oxycodon.json")
    bundle = request["prefetch"]["medicationRequests"]
    bundle.setdefault("entry", []).append(
        {
            "resource": {
                "resourceType": "MedicationRequest",
                "id": "h-unresolved",
                "status": "active",
                "intent": "order",
                "subject": {"reference": f"Patient/{request['context']['patientId']}"},
                "medicationReference": {"reference": "Medication/not-in-the-request"},
            }
        }
    )
    response = api.post("/cds-services/opioid-order-sign", json=request)
    assert response.status_code == 200, response.text
    cards = {card["source"]["topic"]["code"]: card for card in response.json()["cards"]}
    assert "chronic-use" in cards
    assert "MedicationRequest/h-unresolved" in cards["incomplete-check"]["detail"]


def test_a_history_search_cut_off_is_named() -> None:
    """Paging stopped (a bound, or an off-origin `next`): the prefetch reports the resource
    type (`ResolvedData.cut_off`, tested in tests/cds_hooks/prefetch) and the card names it."""
    request = _request()
    evaluation = load_evaluator(Settings()).evaluate(
        EvaluationInput(
            hook=request["hook"],
            context=request["context"],
            draft_orders=DraftOrders.from_json(request["context"]["draftOrders"]),
            resources=[],
            cut_off_searches=frozenset({"MedicationDispense"}),
            today=date.today(),
        )
    )
    cards = {card.source.topic.code: card for card in evaluation.cards if card.source.topic}
    assert "gp-duration-limit" in cards
    detail = cards["incomplete-check"].detail or ""
    assert "MedicationDispense search: niet volledig ontvangen" in detail
    # Listed with the data that is missing, while the rules still run on what came.
    for card in evaluation.cards:
        assert card.extension is not None
        assert card.extension["nl.opioid-cds.explanation"]["missing_data"] == [
            "medicationDispenses"
        ]


# --- found by the fuzz property (test_fuzz_nothing_silent.py) --------------------------------


def _fixture(name: str) -> dict[str, Any]:
    request, _ = load_fixture(FIXTURES_DIR / f"{name}.json")
    return request


def _resource(request: dict[str, Any], ref: str) -> dict[str, Any]:
    """The drafted or prefetched resource `Type/id` of a request."""
    bundles = [request["context"]["draftOrders"], *request["prefetch"].values()]
    for bundle in bundles:
        for entry in bundle.get("entry", []) if isinstance(bundle, dict) else []:
            resource: dict[str, Any] = entry["resource"]
            if f"{resource['resourceType']}/{resource['id']}" == ref:
                return resource
    raise LookupError(ref)


def _incomplete(cards: dict[str, dict[str, Any]]) -> str:
    detail: str = cards["incomplete-check"]["detail"]
    assert "failed (service error)" not in detail
    return detail


def test_a_period_of_use_to_9998_with_repeats_still_gets_chronic_use(api: TestClient) -> None:
    """The order's days with its repeats ran past the calendar: chronic-use raised
    OverflowError and was named as a failed check, without its card."""
    request = _fixture("chronic-use-oxycodon")
    draft = _draft(request)
    draft["extension"][0]["valuePeriod"]["end"] = "9998-12-31"
    draft["dispenseRequest"]["numberOfRepeatsAllowed"] = 2
    cards = _cards(api, request)
    assert "chronic-use" in cards
    assert "gp-duration-limit" in cards
    assert "incomplete-check" not in cards


@pytest.mark.parametrize(
    ("medication", "reason"),
    [
        (None, "niet ingevuld"),
        (42, "niet leesbaar"),
        ("oxycodon", "niet leesbaar"),
        ({}, "niet leesbaar"),
    ],
)
def test_a_drafted_medication_left_out_or_unreadable_is_named(
    api: TestClient, medication: object, reason: str
) -> None:
    """Not recognisable as anything, the order was no opioid: every card went, unsaid."""
    request = _request()
    draft = _draft(request)
    del draft["medicationCodeableConcept"]
    if medication is not None:
        draft["medicationCodeableConcept"] = medication
    detail = _incomplete(_cards(api, request))
    assert f"Dit recept: geneesmiddel: {reason} — `{ORDER_ID}`" in detail


@pytest.mark.parametrize(("medication", "named"), [(None, False), (42, True)])
def test_on_order_select_a_draft_without_a_medication_yet_is_no_gap(
    api: TestClient, medication: object, named: bool
) -> None:
    """order-select fires while the GP fills in the order (the sandbox opens its prescribing
    screen with no medication): nothing chosen yet is not named; something unreadable is."""
    request = _fixture("common-path-order-select")
    draft = request["context"]["draftOrders"]["entry"][0]["resource"]
    del draft["medicationCodeableConcept"]
    if medication is not None:
        draft["medicationCodeableConcept"] = medication
    cards = _cards(api, request)
    assert ("incomplete-check" in cards) is named
    if named:
        assert "geneesmiddel: niet leesbaar" in _incomplete(cards)


def test_a_history_medication_that_cannot_be_read_is_named(api: TestClient) -> None:
    request = _fixture("chronic-use-oxycodon")
    _resource(request, "MedicationRequest/mr-chronic-0")["medicationCodeableConcept"] = 42
    detail = _incomplete(_cards(api, request))
    assert "geneesmiddel: niet leesbaar — `MedicationRequest/mr-chronic-0`" in detail


@pytest.mark.parametrize("period", ["garbage", 42, [], {}, None])
def test_a_period_of_use_without_a_period_uses_the_next_source_and_says_so(
    api: TestClient, period: object
) -> None:
    """An ext-TimeInterval.Period with no readable Period in it was no period of use at all,
    unsaid; 28 tablets at 2 a day still give 14 days."""
    request = _request()
    extension = _draft(request)["extension"][0]
    del extension["valuePeriod"]
    if period is not None:
        extension["valuePeriod"] = period
    cards = _cards(api, request)
    assert "gp-duration-limit" in cards
    assert f"(dit recept): gebruiksduur: niet leesbaar — `{ORDER_ID}`" in _incomplete(cards)


def test_an_unreadable_history_period_of_use_is_named(api: TestClient) -> None:
    request = _fixture("chronic-use-oxycodon")
    prior = _resource(request, "MedicationRequest/mr-chronic-0")
    prior["extension"][0]["valuePeriod"]["start"] = "2026-13-45"
    detail = _incomplete(_cards(api, request))
    assert "gebruiksduur: niet leesbaar — `MedicationRequest/mr-chronic-0`" in detail


@pytest.mark.parametrize(
    ("fixture", "path", "value", "element", "lost"),
    [
        # 5 bananas: no supply duration, so no duration of 15 days beyond the GP's week.
        (
            "repeat-prescription-rxnorm",
            ("dispenseRequest", "expectedSupplyDuration", "code"),
            "bananas",
            "dispenseRequest.expectedSupplyDuration",
            "gp-duration-limit",
        ),
        # Repeats read as none: no repeat-prescription card, and 15 days became 5.
        (
            "follow-up-by-phone-with-repeats",
            ("dispenseRequest", "numberOfRepeatsAllowed"),
            "1e999",
            "dispenseRequest.numberOfRepeatsAllowed",
            "repeat-prescription",
        ),
        # "zes" times a day read as once a day: half the OME, no high-daily-dose card.
        (
            "high-daily-dose",
            ("dosageInstruction", 0, "timing", "repeat", "frequency"),
            "zes",
            "dosageInstruction.timing.repeat.frequency",
            "high-daily-dose",
        ),
        (
            "high-daily-dose",
            ("dosageInstruction", 0, "timing", "repeat", "frequency"),
            0,
            "dosageInstruction.timing.repeat.frequency",
            "high-daily-dose",
        ),
        # The back pain could not be read: no bony-musculoskeletal-pain card.
        (
            "short-acting-oxycodon-back-pain",
            ("reasonCode",),
            "garbage",
            "reasonCode",
            "bony-musculoskeletal-pain",
        ),
        (
            "short-acting-oxycodon-back-pain",
            ("reasonCode", 0, "coding", 0, "code"),
            {"value": "L03"},
            "reasonCode.coding.code",
            "bony-musculoskeletal-pain",
        ),
    ],
)
def test_an_unreadable_element_of_a_draft_is_named_by_its_path(
    api: TestClient,
    fixture: str,
    path: tuple[str | int, ...],
    value: object,
    element: str,
    lost: str,
) -> None:
    request = _fixture(fixture)
    node: Any = _draft(request)
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    cards = _cards(api, request)
    assert lost not in cards
    detail = _incomplete(cards)
    assert f"(dit recept): {element}: niet leesbaar — `{ORDER_ID}`" in detail
    if isinstance(value, str):
        assert value not in detail  # the path, not the value


@pytest.mark.parametrize(
    ("fixture", "ref", "element", "value", "lost"),
    [
        # The oxazepam dispense's 30 days were read as 1: no opioid + sedative warning.
        (
            "opioid-with-dispensed-benzodiazepine",
            "MedicationDispense/md-oxazepam",
            "daysSupply",
            {"value": 30, "code": "bananas"},
            "opioid-sedative-combination",
        ),
        # The dispense had no start: no early refill.
        (
            "early-refill",
            "MedicationDispense/md-1",
            "whenHandedOver",
            "2026-13-45",
            "early-refill",
        ),
        # The running oxycodon without a status was never in use: no high daily dose.
        (
            "high-daily-dose-overlapping",
            "MedicationRequest/mr-current-oxy",
            "status",
            None,
            "high-daily-dose",
        ),
    ],
)
def test_an_unreadable_element_of_the_history_is_named_by_its_path(
    api: TestClient, fixture: str, ref: str, element: str, value: object, lost: str
) -> None:
    request = _fixture(fixture)
    resource = _resource(request, ref)
    del resource[element]
    if value is not None:
        resource[element] = value
    cards = _cards(api, request)
    assert lost not in cards
    reason = "niet ingevuld" if value is None else "niet leesbaar"
    assert f"(medicatiegeschiedenis): {element}: {reason} — `{ref}`" in _incomplete(cards)


def test_every_card_that_loses_its_suggestions_to_an_invalid_draft_says_why(
    api: TestClient,
) -> None:
    """A draft the readers read but that is not valid R4 as it stands (a single coding where
    R4 has an array) gets no `update` suggestions. Only the first card that asked said why;
    the second (bony pain) lost its reasons on the prescription unsaid."""
    request = _fixture("short-acting-oxycodon-back-pain")
    category = _draft(request)["category"][0]
    category["coding"] = category["coding"][0]
    cards = _cards(api, request)
    for rule_id in ("short-acting-opioid", "bony-musculoskeletal-pain"):
        assert not cards[rule_id].get("suggestions")
        notes = cards[rule_id]["extension"]["nl.opioid-cds.explanation"]["notes"]
        assert notes["suggestions_omitted"] == [
            {"order_id": ORDER_ID, "reason": "draft order is not valid FHIR R4"}
        ]


def test_an_active_opioid_whose_dose_cannot_be_read_is_named(api: TestClient) -> None:
    """Its OME was left out of the total without a word: no high-daily-dose card."""
    request = _fixture("high-daily-dose-overlapping")
    _resource(request, "MedicationRequest/mr-current-oxy")["dosageInstruction"] = []
    cards = _cards(api, request)
    assert "high-daily-dose" not in cards
    detail = _incomplete(cards)
    assert "omrekening naar OME: dosis onbekend — `MedicationRequest/mr-current-oxy`" in detail


# --- the patient's other resources (found by the fuzz property on them) ----------------------


def _card_ids(api: TestClient, request: dict[str, Any]) -> set[str]:
    return set(_cards(api, request))


@pytest.mark.parametrize(
    ("fixture", "ref", "path", "value", "element", "lost"),
    [
        # The opioid use disorder could not be read: no card for the overdose risk.
        (
            "opioid-use-disorder",
            "Condition/cond-oud",
            ("code",),
            "garbage",
            "code",
            "opioid-use-disorder",
        ),
        (
            "pregnancy",
            "Condition/cond-pregnant",
            ("code", "coding", 0, "code"),
            {"value": "W78"},
            "code.coding.code",
            "pregnancy",
        ),
        # The surgeon's specialty could not be read: the prior prescription had no known role,
        # so the GP was not sent back to the specialist.
        (
            "specialist-ownership-postoperative",
            "PractitionerRole/role-surgeon-visser",
            ("specialty",),
            7,
            "specialty",
            "specialist-ownership",
        ),
        # The practice's AGB code could not be read: its overlay (at most 5 days) was not
        # applied, and 6 days passed the region's 7.
        (
            "gp-6-days-practice-max-5",
            "Organization/praktijk-voorbeeldhof",
            ("identifier", 0, "value"),
            True,
            "identifier.value",
            "gp-duration-limit",
        ),
        (
            "gp-6-days-practice-max-5",
            "PractitionerRole/role-gp-bakker",
            ("organization",),
            "Organization/praktijk-voorbeeldhof",
            "organization",
            "gp-duration-limit",
        ),
    ],
)
def test_an_unreadable_element_of_the_patients_data_that_decides_a_card_is_named(
    api: TestClient,
    fixture: str,
    ref: str,
    path: tuple[str | int, ...],
    value: object,
    element: str,
    lost: str,
) -> None:
    request = _fixture(fixture)
    assert lost in _card_ids(api, request)
    node: Any = _resource(request, ref)
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    cards = _cards(api, request)
    assert lost not in cards
    detail = _incomplete(cards)
    assert f"{element}: niet leesbaar — `{ref}`" in detail
    if isinstance(value, str):
        assert value not in detail  # the path, not the value


def test_a_postcode_that_cannot_be_read_is_named_without_the_patients_id(
    api: TestClient,
) -> None:
    """Barneveld's addiction care goes through the Zorgprogrammacoördinator: unread, the
    postcode offered the general route, unsaid."""
    coordinator = "Zorgprogrammacoördinator GGZ"
    request = _fixture("chronic-use-barneveld")
    labels = [s["label"] for s in _cards(api, request)["chronic-use"]["suggestions"]]
    assert any(coordinator in label for label in labels)
    request["prefetch"]["patient"]["address"][0]["postalCode"] = {"value": "3771 KP"}
    cards = _cards(api, request)
    labels = [s["label"] for s in cards["chronic-use"]["suggestions"]]
    assert not any(coordinator in label for label in labels)
    detail = _incomplete(cards)
    assert "address.postalCode: niet leesbaar — `Patient`" in detail
    assert "pat-0002" not in detail


def test_a_phone_consult_whose_type_cannot_be_read_is_named(api: TestClient) -> None:
    """Today's call recorded as an ambulatory consult: only its type says it was by phone.
    Unread, the call was a physical consult, and the follow-up card went unsaid."""
    request = _fixture("follow-up-by-phone")
    today = _resource(request, "Encounter/enc-today")
    today["class"]["code"] = "AMB"
    assert "follow-up-without-consult" in _card_ids(api, request)
    today["type"][0]["text"] = {"value": "Telefonisch consult"}
    cards = _cards(api, request)
    assert "follow-up-without-consult" not in cards
    assert "type.text: niet leesbaar — `Encounter/enc-today`" in _incomplete(cards)


def test_a_diagnosis_of_todays_encounter_that_cannot_be_read_is_named(api: TestClient) -> None:
    """The back pain is diagnosed on today's encounter, not on the order (rule 6 reads both)."""
    request = _fixture("common-path-oxycodon-mga-5-days")
    del _draft(request)["reasonCode"]
    today = _resource(request, "Encounter/enc-today")
    pain = {"system": "http://hl7.org/fhir/sid/icpc-1-nl", "code": "L86"}
    condition = {"resourceType": "Condition", "id": "cond-back", "code": {"coding": [pain]}}
    request["prefetch"]["conditions"] = {
        "resourceType": "Bundle",
        "entry": [{"resource": condition}],
    }
    today["diagnosis"] = [{"condition": {"reference": "Condition/cond-back"}}]
    assert "bony-musculoskeletal-pain" in _card_ids(api, request)
    today["diagnosis"] = [{"condition": "Condition/cond-back"}]
    cards = _cards(api, request)
    assert "bony-musculoskeletal-pain" not in cards
    assert "diagnosis.condition: niet leesbaar — `Encounter/enc-today`" in _incomplete(cards)


def test_a_pregnancy_status_whose_date_cannot_be_read_is_named(api: TestClient) -> None:
    """The pregnancy known from an Observation (LOINC 82810-3), not a Condition."""
    request = _fixture("antitussive-codeine")
    status = {
        "resourceType": "Observation",
        "id": "obs-pregnancy",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "82810-3"}]},
        "effectiveDateTime": "2026-10-20",
        "valueCodeableConcept": {
            "coding": [{"system": "http://snomed.info/sct", "code": "77386006"}]
        },
    }
    request["prefetch"]["conditions"] = {"resourceType": "Bundle", "entry": []}
    request["prefetch"]["observations"] = {
        "resourceType": "Bundle",
        "entry": [{"resource": status}],
    }
    assert "pregnancy" in _card_ids(api, request)
    status["effectiveDateTime"] = "2026-13-45"
    cards = _cards(api, request)
    assert "pregnancy" not in cards
    assert "effectiveDateTime: niet leesbaar — `Observation/obs-pregnancy`" in _incomplete(cards)


def test_an_unreadable_condition_that_decides_nothing_is_not_named(api: TestClient) -> None:
    """A cold whose clinical status cannot be read is no gap in the checks."""
    request = _fixture("gp-duration-14-days")
    cold = {
        "resourceType": "Condition",
        "id": "cond-cold",
        "clinicalStatus": "active",
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icpc-1-nl", "code": "R74"}]},
    }
    request["prefetch"]["conditions"] = {"resourceType": "Bundle", "entry": [{"resource": cold}]}
    assert "incomplete-check" not in _card_ids(api, request)
    cold["code"] = {"coding": "R74"}  # what it is, unread, could be anything
    assert "code.coding: niet leesbaar — `Condition/cond-cold`" in _incomplete(_cards(api, request))


# --- the prefetch (found by the fuzz property on it) ------------------------------------------


def _prefetched(name: str) -> dict[str, Any]:
    """A fixture's request without its fhirServer: what the prefetch lacks stays missing."""
    request = _fixture(name)
    del request["fhirServer"]
    return request


def _missing_data(cards: dict[str, dict[str, Any]]) -> set[str]:
    return {
        key
        for card in cards.values()
        for key in card["extension"]["nl.opioid-cds.explanation"].get("missing_data", [])
    }


@pytest.mark.parametrize(
    ("fixture", "key", "broken", "line"),
    [
        # A Bundle in the Bundle: the dispensed oxazepam was never read.
        (
            "opioid-with-dispensed-benzodiazepine",
            "medicationDispenses",
            lambda bundle: {**bundle, "entry": [{"resource": bundle}]},
            "MedicationDispense search: niet alles leesbaar ontvangen",
        ),
        # An entry without its resource: the opioid use disorder was never read.
        (
            "opioid-use-disorder",
            "conditions",
            lambda bundle: {**bundle, "entry": [{"fullUrl": "Condition/cond-oud"}]},
            "Condition search: niet alles leesbaar ontvangen",
        ),
        # The search found 40 conditions, the client sent the first page without its next link.
        (
            "opioid-use-disorder",
            "conditions",
            lambda bundle: {**bundle, "entry": [], "total": 40},
            "Condition search: niet volledig ontvangen",
        ),
        (
            "opioid-use-disorder",
            "conditions",
            lambda bundle: {**bundle, "entry": [], "total": "40"},
            "Condition search: niet volledig ontvangen",
        ),
        (
            "opioid-use-disorder",
            "conditions",
            lambda bundle: {**bundle, "entry": [], "link": [{"relation": "next", "url": 7}]},
            "Condition search: niet volledig ontvangen",
        ),
        # The search failed: the only card of the call went, and nothing said why.
        (
            "opioid-use-disorder",
            "conditions",
            lambda bundle: {"resourceType": "OperationOutcome", "issue": []},
            "Condition search: niet ontvangen",
        ),
        (
            "pregnancy",
            "conditions",
            lambda bundle: "garbage",
            "Condition search: niet ontvangen",
        ),
    ],
)
def test_a_search_that_came_back_broken_or_not_at_all_is_named(
    api: TestClient, fixture: str, key: str, broken: Any, line: str
) -> None:
    request = _prefetched(fixture)
    before = _card_ids(api, request)
    request["prefetch"][key] = broken(request["prefetch"][key])
    cards = _cards(api, request)
    assert before - set(cards) - {"incomplete-check"}  # the card it cost
    assert line in _incomplete(cards)
    assert key in _missing_data(cards)


def test_a_prefetch_of_null_on_order_select_names_what_was_not_checked(api: TestClient) -> None:
    request = _prefetched("pregnancy")
    request["prefetch"] = None
    cards = _cards(api, request)
    assert "pregnancy" not in cards
    detail = _incomplete(cards)
    assert "Condition search: niet ontvangen" in detail
    assert "Observation search: niet ontvangen" in detail


def test_a_user_role_search_that_cannot_be_asked_for_is_not_named(api: TestClient) -> None:
    """`PractitionerRole?practitioner={{userPractitionerId}}` cannot be filled for a user who is
    a PractitionerRole: a client that keeps to CDS Hooks does not send it, and every call would
    be incomplete. Sent and broken, it is named."""
    request = _prefetched("gp-duration-14-days")
    del request["prefetch"]["practitionerRoles"]
    cards = _cards(api, request)
    assert "gp-duration-limit" in cards
    assert "incomplete-check" not in cards
    request["prefetch"]["practitionerRoles"] = {"resourceType": "OperationOutcome", "issue": []}
    assert "PractitionerRole search: niet ontvangen" in _incomplete(_cards(api, request))
