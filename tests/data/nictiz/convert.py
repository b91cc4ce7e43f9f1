"""Converts the Nictiz MP9 3.0 test instances (FHIR R4 XML) this project tests with into JSON.

Run from the repository root, with a clone of github.com/Nictiz/Nictiz-testscripts:

    .venv/bin/python -m tests.data.nictiz.convert /path/to/Nictiz-testscripts [commit]

Each output file names its source (repository, commit, path). Touchstone writes dates relative
to the day a test runs (``${DATE, T, D, -1}`` = yesterday); they become days around the fixtures'
anchor day (`rules.fixtures.ANCHOR_DATE`), so a test that evaluates on that day reads the story
as written. The narrative (`text`) is left out: the rules never read it. The XML is parsed by
fhir.resources (R4B models, which read MP9's R4 resources; needs lxml, a dev dependency).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import date, timedelta
from importlib import import_module
from pathlib import Path
from typing import Any

from rules.fixtures import ANCHOR_DATE

REPOSITORY = "Nictiz/Nictiz-testscripts"
OUT = Path(__file__).resolve().parent
_TEST = "src/MP9-3-0-0-beta/Test/_reference/fixtures/"
_CERT = "src/MP9-3-0-0-beta/Cert/_reference/fixtures/"

SOURCES: tuple[str, ...] = (
    # Temazepam, script 5 (qualification): agreement, its stop, dispense request,
    # administration agreement and its stop, dispense, and the two products.
    *(
        _CERT + name
        for name in (
            "mp-MedAgr-mp9-MBH300SCRIPT5MA-tmg.xml",
            "mp-MedAgr-mp9-MBH300SCRIPT5MASTAKEN-tmg.xml",
            "mp-DspReq-mp9-MBH300SCRIPT5VV-tmg.xml",
            "mp-AdmAgr-mp9-MBH300SCRIPT5TA-tmg.xml",
            "mp-AdmAgr-mp9-MBH300SCRIPT5TASTAKEN-tmg.xml",
            "mp-MedDsp-mp9-MBH300SCRIPT5MVE-tmg.xml",
            "mp-PhPrd-mp9-216840111388324410-15814.xml",
            "mp-PhPrd-mp9-21684011138832447-611662.xml",
        )
    ),
    *(
        _TEST + name
        for name in (
            # Oxazepam, QA 6: agreement, dispense request, administration agreement, dispense,
            # medication use; a second dispense request (financial indication code).
            "mp-MedAgr-mp9-MBH300QA6MA-tmg.xml",
            "mp-DspReq-mp9-MBH300QA6VV-tmg.xml",
            "mp-AdmAgr-mp9-MBH300QA6TA-tmg.xml",
            "mp-MedDsp-mp9-MBH300QA6MVE-tmg.xml",
            "mp-MedUse2-mp9-MBH300QA6MGB-tmg.xml",
            "mp-DspReq-mp9-MBH300financieleindicatiecodeVV-tmg.xml",
            "mp-PhPrd-mp9-216840111388324410-353.xml",
            "mp-PhPrd-mp9-21684011138832447-613401.xml",
            # Morphine pump (administration rate 0.2-0.5 ml/h).
            "mp-MedAgr-mp9-MBH300toedieningssnelheidMA-tmg.xml",
            "mp-AdmAgr-mp9-MBH300toedieningssnelheidTA-tmg.xml",
            "mp-MedUse2-mp9-MBH300toedieningssnelheidMGB-tmg.xml",
            "mp-PhPrd-mp9-216840111388324410-94692.xml",
            "mp-PhPrd-mp9-21684011138832447-2554771.xml",
            # Codeine for cough, variable amount with a maximum.
            "mp-MedAgr-mp9-MBH300variabelehoeveelheidenmaximumMA-tmg.xml",
            "mp-AdmAgr-mp9-MBH300variabelehoeveelheidenmaximumTA-tmg.xml",
            "mp-MedUse2-mp9-MBH300variabelehoeveelheidenmaximumMGB-tmg.xml",
            "mp-PhPrd-mp9-216840111388324410-42773.xml",
            "mp-PhPrd-mp9-21684011138832447-874965.xml",
        )
    ),
)

_RELATIVE_DATE = re.compile(r"\$\{DATE, T, ([DM]), ([+-]\d+)\}")


def absolute_dates(xml: str, anchor: date = ANCHOR_DATE) -> str:
    """Touchstone's relative dates (days or months from the test day) as days around `anchor`."""

    def day(match: re.Match[str]) -> str:
        unit, offset = match.group(1), int(match.group(2))
        if unit == "D":
            return (anchor + timedelta(days=offset)).isoformat()
        month = anchor.month - 1 + offset
        return anchor.replace(year=anchor.year + month // 12, month=month % 12 + 1).isoformat()

    return _RELATIVE_DATE.sub(day, xml)


def to_json(xml: str) -> dict[str, Any]:
    """One R4 resource in XML as FHIR JSON, via the fhir.resources model of its type."""
    kind = re.search(r"<([A-Za-z]+)\s+xmlns=", xml)
    if kind is None:
        raise ValueError("not a FHIR resource in XML")
    model = getattr(import_module(f"fhir.resources.R4B.{kind.group(1).lower()}"), kind.group(1))
    resource = model.model_validate_xml(xml.encode())
    resource.text = None
    result: dict[str, Any] = json.loads(resource.model_dump_json(exclude_none=True))
    return result


def convert(clone: Path, commit: str) -> list[Path]:
    written: list[Path] = []
    for path in SOURCES:
        xml = subprocess.run(
            ["git", "-C", str(clone), "show", f"{commit}:{path}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        document = {
            "source": {
                "repository": REPOSITORY,
                "commit": commit,
                "path": path,
                "dates": f"${{DATE, T, D, n}} written as {ANCHOR_DATE.isoformat()} + n days",
            },
            "resource": to_json(absolute_dates(xml)),
        }
        target = OUT / Path(path).with_suffix(".json").name
        target.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n")
        written.append(target)
    return written


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    clone = Path(argv[1])
    commit = argv[2] if len(argv) == 3 else "HEAD"
    commit = subprocess.run(
        ["git", "-C", str(clone), "rev-parse", commit], check=True, capture_output=True, text=True
    ).stdout.strip()
    for target in convert(clone, commit):
        print(target.relative_to(Path.cwd()) if target.is_relative_to(Path.cwd()) else target)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
