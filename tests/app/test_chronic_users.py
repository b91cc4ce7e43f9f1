"""`opioid-cds chronic-users`: on a generated export with known chronic, short-term, OAT and
palliative patients, who is listed where, with which covered days, and that a chronic patient
here is exactly one for whom the service's `chronic-user-review` card fires on the same data."""

from __future__ import annotations

import asyncio
import csv
import html
import io
import json
import stat
from collections import defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

from app.cli import main
from app.evaluation import load_evaluator
from app.offline import evaluate_offline
from app.settings import Settings
from fhir_fixtures import builders as b
from fhir_fixtures.population import Population, practice_agb, write_population
from rules.engine import Evaluator
from rules.worklist import CHRONIC_RULE, WORKLIST_USER, Worklist, build_worklist, invitation_email

AS_OF = date(2026, 11, 1)
LISTED = {
    "chronic": {"chronic", "borderline-29", "oat-chronic"},
    "oat": {"oat"},
    "palliative": {"palliative"},
}
NOT_LISTED = {"none", "short", "old", "borderline-28", "palliative-short"}
PREFETCH_KEYS = {
    "MedicationRequest": "medicationRequests",
    "MedicationDispense": "medicationDispenses",
    "MedicationStatement": "medicationStatements",
    "Condition": "conditions",
    "Encounter": "encounters",
    "Procedure": "procedures",
}


@pytest.fixture(scope="module")
def evaluator() -> Evaluator:
    return load_evaluator(Settings())


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Population]:
    directory = tmp_path_factory.mktemp("export")
    population = write_population(directory, patients=1000, as_of=AS_OF, files_per_type=2)
    return directory, population


@pytest.fixture(scope="module")
def worklist(export: tuple[Path, Population], evaluator: Evaluator) -> Worklist:
    return build_worklist(export[0], evaluator, as_of=AS_OF, workers=2)


def _by_patient(directory: Path) -> dict[str, list[dict[str, Any]]]:
    """The export regrouped by patient, the plain way, to build the service's requests."""
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for path in sorted(directory.glob("*.ndjson")):
        for line in path.read_bytes().splitlines():
            resource = orjson.loads(line)
            if resource["resourceType"] == "Patient":
                grouped[resource["id"]].append(resource)
            elif "subject" in resource:
                grouped[resource["subject"]["reference"].split("/")[1]].append(resource)
    return grouped


def _service_card(
    resources: list[dict[str, Any]], patient_id: str, evaluator: Evaluator
) -> dict[str, Any] | None:
    """The service's `chronic-user-review` card for a patient-view call with this data."""
    prefetch: dict[str, Any] = {key: b.bundle([]) for key in PREFETCH_KEYS.values()}
    for resource in resources:
        kind = resource["resourceType"]
        if kind == "Patient":
            prefetch["patient"] = resource
        else:
            prefetch[PREFETCH_KEYS[kind]]["entry"].append({"resource": resource})
    request = b.hook_request(
        "patient-view", patient_id=patient_id, user_id=WORKLIST_USER, prefetch=prefetch
    )
    result = asyncio.run(
        evaluate_offline(request, "opioid-patient-view", today=AS_OF, evaluator=evaluator)
    )
    assert result.status == 200, result.body
    cards = [c for c in result.body["cards"] if c["source"]["topic"]["code"] == CHRONIC_RULE]
    return cards[0] if cards else None


def test_every_patient_is_listed_where_their_kind_says(
    worklist: Worklist, export: tuple[Path, Population]
) -> None:
    population = export[1]
    for section, kinds in LISTED.items():
        listed = {row.patient for row in worklist.rows if row.section == section}
        assert listed == population.of_kind(*kinds), section
    assert not {row.patient for row in worklist.rows} & population.of_kind(*NOT_LISTED)
    assert worklist.summary.patients == 1000
    assert worklist.summary.bad_lines == 0
    assert not worklist.summary.unknown_types


def test_rows_carry_covered_days_practice_and_oat(
    worklist: Worklist, export: tuple[Path, Population]
) -> None:
    population = export[1]
    for row in worklist.rows:
        assert row.covered_days == population.covered_days[row.patient], row.patient
        assert row.practice == population.practice[row.patient]
        kind = population.kinds[row.patient]
        assert row.on_oat == kind.startswith("oat")
        if kind == "oat":
            assert row.oat_days == 60
            assert row.substances == ("methadone",)
        if row.section == "chronic":
            assert row.covered_days > 28
            assert row.last_prescription is not None
            assert row.last_physical_consult == date(2026, 10, 27)
    borderline = {row.patient: row.covered_days for row in worklist.rows}
    assert set(borderline.values()) >= {29}
    assert all(days != 28 for days in borderline.values())


def test_a_patient_is_chronic_here_exactly_when_the_service_card_fires(
    worklist: Worklist, export: tuple[Path, Population], evaluator: Evaluator
) -> None:
    directory, population = export
    grouped = _by_patient(directory)
    listed = {row.patient: row for row in worklist.rows}
    # Five patients of every kind, through the service's own pipeline (evaluate_offline).
    per_kind: dict[str, list[str]] = defaultdict(list)
    for pid in sorted(population.kinds):
        kind = population.kinds[pid]
        if len(per_kind[kind]) < 5:
            per_kind[kind].append(pid)
    assert set(per_kind) == set(population.kinds.values())
    for kind, patients in per_kind.items():
        for pid in patients:
            card = _service_card(grouped[pid], pid, evaluator)
            row = listed.get(pid)
            chronic_here = row is not None and row.section == "chronic"
            assert chronic_here == (card is not None), (kind, pid)
            if card is not None and row is not None:
                facts = card["extension"]["nl.opioid-cds.explanation"]["facts"]
                assert facts["prior_opioid_days"] == row.covered_days
                assert facts["on_oat"] == row.on_oat


def test_one_worker_and_two_give_the_same_list(
    worklist: Worklist, export: tuple[Path, Population], evaluator: Evaluator
) -> None:
    alone = build_worklist(export[0], evaluator, as_of=AS_OF, workers=1)
    assert alone.rows == worklist.rows


def test_practice_keeps_only_its_patients(
    export: tuple[Path, Population], evaluator: Evaluator
) -> None:
    directory, population = export
    agb = practice_agb(7)
    only = build_worklist(directory, evaluator, as_of=AS_OF, practice=agb, workers=2)
    expected = {
        pid
        for pid in population.of_kind(*(k for kinds in LISTED.values() for k in kinds))
        if population.practice[pid] == agb
    }
    assert {row.patient for row in only.rows} == expected
    assert only.summary.other_practice == sum(1 for p in population.practice.values() if p != agb)


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_csv_json_and_html(
    export: tuple[Path, Population],
    worklist: Worklist,
    evaluator: Evaluator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    directory = str(export[0])
    code, out, err = _cli(capsys, "chronic-users", directory, "--as-of", "2026-11-01")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["section"], r["patient"]) for r in rows] == [
        (row.section, row.patient) for row in worklist.rows
    ]
    assert "listed: 60 chronic, 15 oat, 15 palliative" in err

    code, out, _ = _cli(
        capsys, "chronic-users", directory, "--as-of", "2026-11-01", "--format", "json"
    )
    body = json.loads(out)
    assert len(body["sections"]["chronic"]) == 60
    assert body["sections"]["oat"][0]["on_oat"] is True
    assert body["sections"]["oat"][0]["substances"] == ["methadone"]
    assert body["summary"]["resources"]["Patient"] == 1000

    target = tmp_path / "list.html"
    code, _, _ = _cli(
        capsys, "chronic-users", directory, "--as-of", "2026-11-01", "--format", "html",
        "-o", str(target),
    )  # fmt: skip
    assert code == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    page = target.read_text(encoding="utf-8")
    email = invitation_email(evaluator.ruleset)
    # The rule set's text, one per chronic patient and none for the others.
    assert page.count(html.escape(email)) == 60
    assert "<script" not in page and "http" not in page


def test_an_existing_output_file_becomes_owner_only(
    export: tuple[Path, Population], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The list names patients: writing it over a world-readable file must not leave it so."""
    target = tmp_path / "list.csv"
    target.write_text("old list\n", encoding="utf-8")
    target.chmod(0o644)
    code, _, err = _cli(
        capsys, "chronic-users", str(export[0]), "--as-of", "2026-11-01", "-o", str(target)
    )
    assert code == 0, err
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert "old list" not in target.read_text(encoding="utf-8")


def test_the_email_is_the_rule_sets_quoted_template(evaluator: Evaluator) -> None:
    email = invitation_email(evaluator.ruleset)
    source = evaluator.ruleset.rules[CHRONIC_RULE].texts["email"].nl
    assert email.startswith("Beste …,")
    assert ">" not in email and "**" not in email
    for line in email.splitlines():
        assert line in source
