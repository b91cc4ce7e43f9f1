"""No file of the project cites a document outside the repository by its path or line numbers.

The sources of the rules (the regional handbook «Handleiding: Chronisch gebruik Opioïden»,
Huisartsen Eemland 2025, and the other documents) are cited by title and section: see the
"Sources" section of docs/rules.md. The shared definitions and what a card carries are in
docs/definitions.md. This test scans every file git tracks (only binary files are left out) for
the old citation forms: the product specification's file name, the seed folder, the seed trace's
file name, a seed file name (three digits, an underscore, sixteen hex digits), and line
citations such as "seed NNN" or "(NNN:line)". The same goes for the internal research notes
(a Markdown file in a reference folder, or one of the notes named bare) and the shared folder
they live in: the catalogue data name the public source a note rests on instead (the WHO ATC/DDD
Index, the CDC opioid IG and MME calculator, the Nictiz MP9 profiles and test data, the Dutch
guidelines), by title, publisher or site and section. The patterns below are written so that
this file does not match them itself.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FORBIDDEN: dict[str, re.Pattern[str]] = {
    "the product specification's file name": re.compile(r"RULES\.md"),
    "the seed folder": re.compile(r"seeds\/"),
    "the seed trace's file name": re.compile(r"seeds\.md"),
    "a seed file name": re.compile(r"\b00[0-4]_[0-9a-f]{16}\b"),
    "a line citation of a seed": re.compile(r"\b00[0-4]:\d"),
    "a seed cited by number": re.compile(r"\bseeds? 00[0-4]\b", re.IGNORECASE),
    "an internal research note by path": re.compile(r"\breference\/[\w.-]+\.md\b"),
    "an internal research note by name": re.compile(
        r"(?<!docs/)\b(?:opioid-cds|cds-hooks|ecosystem)\.md\b"
    ),
    "the shared folder of the internal notes": re.compile(r"\bshared\/"),
}


def _tracked_files() -> list[Path]:
    try:
        listing = subprocess.run(
            ["git", "ls-files", "-z"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        pytest.skip(f"not a git checkout ({error}): the tracked files are unknown")
    names = [name for name in listing.decode("utf-8").split("\0") if name]
    return [ROOT / name for name in names]


def _text(path: Path) -> str | None:
    """The file's text, or None for a binary file (a NUL byte, or not UTF-8)."""
    data = path.read_bytes()
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _citations(text: str) -> list[str]:
    found: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        for what, pattern in FORBIDDEN.items():
            for match in pattern.finditer(line):
                found.append(f"{number}: {what}: {match.group(0)!r}")
    return found


def test_the_patterns_catch_the_old_citation_forms() -> None:
    spec, folder, name = "RULES" + ".md", "seeds" + "/", "003" + "_cf5a52d7823c1ed1"
    shared, notes, md = "shared" + "/", "reference" + "/", ".md"
    old = [
        f"Implements {shared}{spec} §1",
        f"source file `{folder}{name}.txt`",
        f"`source` gives the row of {notes}seeds{md} §3",
        f"N02AA01,exact,morphine,opioid,false,false,,morphine,{notes}opioid-cds{md} §2.1,",
        f"docs/definitions.md §1; {notes}opioid-cds{md} §2.3 (1 : 10)",
        f"# Sources: {notes}opioid-cds{md} §2.1, §3.3",
        f"see {notes}cds-hooks{md} and {notes}ecosystem{md}",
        f"// Gotcha (ecosystem{md} §3): FhirRouter matches on `url`",
        f"(uncertain; opioid-cds{md} §2.2)",
        f"the notes in /work/{shared}reference",
        "«Huisarts schrijft voor maximaal 1 week voor» (00" + "3:153)",
        'source_lines: "00' + '2:4200-4202"',
        "the prescribing agreements (seed " + "003, lines 149-178)",
        "Seed 00" + "3:150-152 «ALLEEN langwerkend»",
    ]
    assert all(_citations(line) for line in old), [line for line in old if not _citations(line)]
    new = [
        "Handleiding Eemland, fase 1, stap 3, «Werkafspraken bij keuze opioïden»",
        "docs/definitions.md §1; Internationale normen §4.2.4-5; 10:03:00; 2025-03-01T00:00:00",
        "WHO ATC/DDD Index (WHOCC; whocc.no/atc_ddd_index)",
        "Nictiz MP9 test data (github.com/Nictiz/HL7-mappings ada_2_fhir-r4/mp/9.3.0/x-v30.xml)",
        "CDC Opioid Prescribing Support IG 2022 (github.com/cqframework/opioid-cds-r4)",
        "docs/cds-hooks.md; docs/integration.md; cds_hooks/references.py; FHIR R4 §References",
        "shared_texts:; a shared VM; the HTTP pool is shared; reference_key(reference)",
    ]
    assert not any(_citations(line) for line in new)


def test_no_tracked_file_cites_a_source_document_by_path_or_line() -> None:
    files = _tracked_files()
    assert files, "git ls-files listed nothing"
    problems: list[str] = []
    scanned = 0
    for path in files:
        if not path.is_file():  # deleted in the work tree but still tracked
            continue
        text = _text(path)
        if text is None:
            continue
        scanned += 1
        relative = path.relative_to(ROOT).as_posix()
        problems.extend(f"{relative}:{problem}" for problem in _citations(text))
    assert scanned > 100, f"only {scanned} text files scanned"
    assert not problems, (
        "cite the handbook by title and section (docs/rules.md, Sources), the definitions by "
        "docs/definitions.md and a research note by the public source it rests on (title, "
        "publisher or site, section), not by a file path or line numbers:\n" + "\n".join(problems)
    )
