"""Micro-benchmark: time to build facts for one order against a 50-order history.

Run: ``.venv/bin/python bench/facts_bench.py [--rounds N]``

The history mixes what the service sees: Nictiz MP9 agreements with a referenced Medication,
RxNorm-coded R4 requests, text-only requests, dispenses, consults, conditions and roles.
Two figures are printed (median and p95 over the rounds); nothing is kept between calls:

- ``facts``: ``build_facts`` on already-parsed JSON;
- ``orjson + facts``: parsing the request bytes with orjson plus building the facts.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import orjson

from cds_hooks.draft_orders import DraftOrders
from rules.catalogue import load_catalogue
from rules.facts import FactSettings, build_facts

TODAY = date(2024, 3, 1)
PRK = "urn:oid:2.16.840.1.113883.2.4.4.10"
GPK = "urn:oid:2.16.840.1.113883.2.4.4.1"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
PERIOD_OF_USE = "http://nictiz.nl/fhir/StructureDefinition/ext-TimeInterval.Period"
UCUM = "http://unitsofmeasure.org"

PRODUCTS: list[dict[str, Any]] = [
    {
        "coding": [
            {"system": PRK, "code": "57614", "display": "OXYCODON TABLET MGA 10MG"},
            {"system": GPK, "code": "111430"},
        ]
    },
    {"coding": [{"system": PRK, "code": "102059", "display": "OXYCODON TABLET 10MG"}]},
    {"coding": [{"system": RXNORM, "code": "245134"}]},
    {"coding": [{"system": RXNORM, "code": "1049574"}]},
    {"coding": [{"system": ATC, "code": "N02AX02"}], "text": "TRAMADOL CAPSULE 50MG"},
    {"text": "Morfine tablet MGA 30mg"},
    {"coding": [{"system": ATC, "code": "N05BA04"}], "text": "OXAZEPAM TABLET 10MG"},
    {"coding": [{"system": PRK, "code": "17469", "display": "IBUPROFEN TABLET 600MG"}]},
]


def _day(offset: int) -> str:
    return (TODAY - timedelta(days=offset)).isoformat()


def _request(n: int) -> dict[str, Any]:
    product = PRODUCTS[n % len(PRODUCTS)]
    start = _day(3 + n * 7)
    request: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "id": f"h{n}",
        "status": "completed" if n > 4 else "active",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "authoredOn": start,
        "requester": {"reference": f"PractitionerRole/r{n % 3}"},
        "dosageInstruction": [
            {
                "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
                "doseAndRate": [
                    {"doseQuantity": {"value": 1, "unit": "stuk", "system": UCUM, "code": "1"}}
                ],
            }
        ],
        "dispenseRequest": {
            "quantity": {"value": 28, "unit": "stuk", "system": UCUM, "code": "1"},
            "numberOfRepeatsAllowed": n % 2,
        },
        "reasonCode": [
            {"coding": [{"system": "http://hl7.org/fhir/sid/icpc-1-nl", "code": "L86"}]}
        ],
    }
    if n % 3 == 0:  # MP9 agreement with a referenced Medication and a period of use
        request["medicationReference"] = {"reference": f"Medication/m{n % len(PRODUCTS)}"}
        request["extension"] = [
            {"url": PERIOD_OF_USE, "valuePeriod": {"start": start, "end": _day(3 + n * 7 - 13)}}
        ]
    else:
        request["medicationCodeableConcept"] = product
    return request


def scenario() -> dict[str, Any]:
    history: list[dict[str, Any]] = [_request(n) for n in range(50)]
    history += [
        {"resourceType": "Medication", "id": f"m{i}", "code": product}
        for i, product in enumerate(PRODUCTS)
    ]
    history += [
        {
            "resourceType": "MedicationDispense",
            "id": f"md{n}",
            "status": "completed",
            "medicationCodeableConcept": PRODUCTS[n % len(PRODUCTS)],
            "whenHandedOver": _day(2 + n * 7),
            "daysSupply": {"value": 14, "unit": "d", "system": UCUM, "code": "d"},
            "performer": [{"actor": {"display": f"Apotheek {n % 2}"}}],
            "authorizingPrescription": [{"reference": f"MedicationRequest/h{n}"}],
        }
        for n in range(10)
    ]
    history += [
        {
            "resourceType": "Encounter",
            "id": f"e{n}",
            "status": "finished",
            "class": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "code": "AMB" if n % 3 else "VR",
            },
            "period": {"start": _day(n * 11)},
        }
        for n in range(10)
    ]
    history += [
        {
            "resourceType": "PractitionerRole",
            "id": f"r{n}",
            "specialty": [
                {
                    "coding": [
                        {
                            "system": "urn:oid:2.16.840.1.113883.2.4.6.7",
                            "code": "0100" if n else "0303",
                        }
                    ]
                }
            ],
        }
        for n in range(3)
    ]
    history += [
        {
            "resourceType": "Patient",
            "id": "p1",
            "birthDate": "1961-05-04",
            "address": [{"use": "home", "postalCode": "3771 AB"}],
        },
        {
            "resourceType": "Condition",
            "id": "c1",
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icpc-1-nl", "code": "L86"}]},
        },
    ]
    draft = _request(0) | {"id": "draft", "status": "draft", "authoredOn": TODAY.isoformat()}
    return {
        "hook": "order-sign",
        "context": {
            "patientId": "p1",
            "userId": "PractitionerRole/r1",
            "draftOrders": {"resourceType": "Bundle", "entry": [{"resource": draft}]},
        },
        "prefetch": {
            "history": {"resourceType": "Bundle", "entry": [{"resource": r} for r in history]}
        },
    }


def _time(fn: Callable[[], object], rounds: int) -> tuple[list[float], list[float]]:
    """Wall-clock and process CPU milliseconds per round (CPU time is less disturbed by
    other processes on a shared machine)."""
    wall, cpu = [], []
    for _ in range(rounds):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        cpu.append((time.process_time() - start_cpu) * 1000.0)
        wall.append((time.perf_counter() - start) * 1000.0)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=2000)
    args = parser.parse_args()
    catalogue = load_catalogue()
    settings = FactSettings()
    body = orjson.dumps(scenario())

    def resources_of(request: dict[str, Any]) -> list[dict[str, Any]]:
        return [e["resource"] for e in request["prefetch"]["history"]["entry"]]

    def facts_of(request: dict[str, Any]) -> object:
        drafts = DraftOrders.from_entries(request["context"]["draftOrders"]["entry"])
        resources = resources_of(request)
        return build_facts(
            hook=request["hook"],
            context=request["context"],
            draft_orders=drafts,
            resources=resources,
            today=TODAY,
            catalogue=catalogue,
            settings=settings,
        )

    parsed = orjson.loads(body)
    facts_of(parsed)  # warm-up (and a sanity check that it runs)

    requests = sum(
        1
        for e in parsed["prefetch"]["history"]["entry"]
        if e["resource"]["resourceType"] == "MedicationRequest"
    )
    print(
        f"history: {requests} MedicationRequests, {len(resources_of(parsed))} resources; "
        f"request body {len(body)} bytes; {args.rounds} rounds"
    )
    for label, fn in (
        ("facts", lambda: facts_of(parsed)),
        ("orjson + facts", lambda: facts_of(orjson.loads(body))),
    ):
        wall, cpu = (sorted(samples) for samples in _time(fn, args.rounds))
        p95 = wall[int(len(wall) * 0.95) - 1]
        print(
            f"{label:16s} median {statistics.median(wall):.3f} ms   p95 {p95:.3f} ms   "
            f"(CPU median {statistics.median(cpu):.3f} ms)"
        )


if __name__ == "__main__":
    main()
