"""Bad exports: clear errors for what cannot be read at all, counted skips for the rest, bad
lines named by file and line number (also across chunk boundaries), never by content."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import orjson
import pytest

from app.cli import main
from app.evaluation import load_evaluator
from app.settings import Settings
from fhir_fixtures import builders as b
from rules.engine import Evaluator
from rules.worklist import ExportError, build_worklist

AS_OF = date(2026, 11, 1)
SECRET = "999999990"  # stands for patient data in a bad line: it must never be echoed


@pytest.fixture(scope="module")
def evaluator() -> Evaluator:
    return load_evaluator(Settings())


def _lines(*resources: object) -> bytes:
    return b"".join(orjson.dumps(resource) + b"\n" for resource in resources)


def test_a_missing_or_empty_directory_is_an_error(tmp_path: Path, evaluator: Evaluator) -> None:
    with pytest.raises(ExportError, match="no such directory"):
        build_worklist(tmp_path / "nope", evaluator, as_of=AS_OF)
    with pytest.raises(ExportError, match=r"no \.ndjson files"):
        build_worklist(tmp_path, evaluator, as_of=AS_OF)
    (tmp_path / "file.ndjson").write_bytes(b"")
    with pytest.raises(ExportError, match="not a directory"):
        build_worklist(tmp_path / "file.ndjson", evaluator, as_of=AS_OF)


def test_bad_lines_unknown_types_and_orphans_are_counted(
    tmp_path: Path, evaluator: Evaluator
) -> None:
    (tmp_path / "Patient.ndjson").write_bytes(
        b"\xef\xbb\xbf" + _lines(b.patient("p1")) + b"\n   \n" + _lines(b.patient("p2"))
    )
    (tmp_path / "MedicationRequest.000.ndjson").write_bytes(
        _lines(b.med_request("m1", b.concept((b.ATC, "N02AA05")), patient="p1"))
        + b'{"resourceType": "MedicationRequest", "note": "BSN ' + SECRET.encode() + b'"\n'
        + b"[1, 2]\n"
        + b'{"id": "x"}\n'
        + b"\xff\xfe not utf-8\n"
        + _lines({"resourceType": "MedicationRequest", "id": "m2"})  # no subject
    )  # fmt: skip
    (tmp_path / "Observation.ndjson").write_bytes(_lines({"resourceType": "Basic", "id": "x"}))
    (tmp_path / "README.txt").write_text("not part of the export")
    summary = build_worklist(tmp_path, evaluator, as_of=AS_OF, workers=2).summary
    assert summary.bad_lines == 4
    assert summary.bad_line_locations == [
        "MedicationRequest.000.ndjson:2: not valid JSON",
        "MedicationRequest.000.ndjson:3: not a FHIR resource (a JSON object with a resourceType)",
        "MedicationRequest.000.ndjson:4: not a FHIR resource (a JSON object with a resourceType)",
        "MedicationRequest.000.ndjson:5: not valid JSON",
    ]
    assert summary.unknown_types == {"Basic": 1}
    assert summary.without_patient == {"MedicationRequest": 1}
    assert summary.patients == 2
    assert summary.resources == {"Patient": 2, "MedicationRequest": 1}


def test_line_numbers_hold_across_chunks(tmp_path: Path, evaluator: Evaluator) -> None:
    # About 3 MB, so two workers cut it into several chunks of 1 MB.
    encounters = [
        b.encounter(f"e{n}", "AMB", "2026-10-01", patient=f"p{n % 50}") for n in range(20000)
    ]
    data = _lines(*encounters).splitlines(keepends=True)
    data[14999] = b"{not json\n"
    (tmp_path / "Encounter.ndjson").write_bytes(b"".join(data))
    summary = build_worklist(tmp_path, evaluator, as_of=AS_OF, workers=2).summary
    assert summary.lines == 20000
    assert summary.bad_line_locations == ["Encounter.ndjson:15000: not valid JSON"]
    assert summary.resources == {"Encounter": 19999}
    assert summary.patients == 50


def test_the_command_reports_without_a_traceback_or_content(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["chronic-users", str(tmp_path / "missing")]) == 2
    _, err = capsys.readouterr()
    assert "no such directory" in err and "Traceback" not in err

    (tmp_path / "Patient.ndjson").write_bytes(
        _lines(b.patient("p1")) + b'{"resourceType": "Patient", "id": "' + SECRET.encode() + b"\n"
    )
    assert main(["chronic-users", str(tmp_path), "--as-of", "2026-11-01"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[0].startswith("section,patient,")
    assert "Patient.ndjson:2: not valid JSON" in err
    assert SECRET not in out + err

    assert main(["chronic-users", str(tmp_path), "-o", str(tmp_path / "no" / "such.csv")]) == 2
    _, err = capsys.readouterr()
    assert "cannot write" in err and "Traceback" not in err


def test_bad_dates_and_worker_counts_are_usage_errors(tmp_path: Path) -> None:
    for argv in (["--as-of", "1 November"], ["--workers", "0"]):
        with pytest.raises(SystemExit) as exit_info:
            main(["chronic-users", str(tmp_path), *argv])
        assert exit_info.value.code == 2


def test_the_html_list_says_how_many_patients_could_not_be_evaluated() -> None:
    from collections import Counter

    from rules.rulesets import load_ruleset
    from rules.worklist import render
    from rules.worklist.run import Summary, Worklist

    summary = Summary(as_of=date(2026, 11, 1), practice=None, workers=1, patients=5)
    summary.not_evaluated = Counter({"KeyError": 2})
    page = render(Worklist(rows=[], summary=summary), "html", load_ruleset())
    assert "2 patiënt(en) konden niet worden beoordeeld en staan niet op deze lijst" in page
    clean = Summary(as_of=date(2026, 11, 1), practice=None, workers=1, patients=5)
    assert "niet worden beoordeeld" not in render(Worklist([], clean), "html", load_ruleset())
