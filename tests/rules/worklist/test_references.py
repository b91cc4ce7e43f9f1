"""What an export refers to: a Medication resource by `medicationReference`, the practice by an
Organization resource, a patient by an absolute URL; each resolved as the service would."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import orjson

from app.evaluation import load_evaluator
from app.settings import Settings
from fhir_fixtures import builders as b
from rules.worklist import build_worklist

AS_OF = date(2026, 11, 1)


def _write(path: Path, *resources: object) -> None:
    path.write_bytes(b"".join(orjson.dumps(resource) + b"\n" for resource in resources))


def test_a_referenced_product_and_practice_are_resolved(tmp_path: Path) -> None:
    oxycodone = b.concept((b.ATC, "N02AA05"), text="OXYCODON TABLET MGA 10MG")
    _write(
        tmp_path / "Patient.ndjson",
        b.patient("p1", generalPractitioner=[b.reference("Organization/practice-1")]),
        b.patient("p2", generalPractitioner=[b.reference("PractitionerRole/r1")]),
    )
    _write(
        tmp_path / "Organization.ndjson",
        {"resourceType": "Organization", "id": "practice-1",
         "identifier": [{"system": b.AGB, "value": "01991234"}]},
    )  # fmt: skip
    _write(
        tmp_path / "PractitionerRole.ndjson",
        b.practitioner_role("r1", organization="Organization/practice-1"),
    )
    _write(tmp_path / "Medication.ndjson", b.medication("ox", oxycodone))
    _write(
        tmp_path / "MedicationRequest.ndjson",
        # 40 days by reference for p1; 40 days with an absolute subject URL for p2.
        b.med_request("m1", reference="Medication/ox", patient="p1", authored="2026-10-01",
                      dispenseRequest=b.dispense_request(days=40)),
        b.med_request("m2", oxycodone, authored="2026-10-01",
                      dispenseRequest=b.dispense_request(days=40),
                      subject=b.reference("https://his.example.nl/fhir/Patient/p2")),
    )  # fmt: skip
    worklist = build_worklist(tmp_path, load_evaluator(Settings()), as_of=AS_OF, workers=1)
    rows = {row.patient: row for row in worklist.rows}
    assert set(rows) == {"p1", "p2"}
    assert rows["p1"].section == rows["p2"].section == "chronic"
    assert rows["p1"].substances == ("oxycodone",)
    assert rows["p1"].covered_days == rows["p2"].covered_days == 32  # 1 October up to today
    assert rows["p2"].ome_mg_per_day is None  # no strength, no dose: not computable
    assert rows["p1"].practice == rows["p2"].practice == "01991234"
    assert rows["p2"].gp == "PractitionerRole/r1"
