"""A generated FHIR Bulk Data export of a GP population, with who is what known by design.

`write_population(directory, patients=…, as_of=…)` writes NDJSON files as a Bulk Data export
names them (`Patient.ndjson`, or `MedicationRequest.000.ndjson` … with `files_per_type`), every
resource made by `fhir_fixtures.builders`. The mix is realistic for a GP population: most
patients have no opioid, some a short course, some are chronic users (more than 28 covered
days in the 90-day look-back), some on OAT (methadone), some in palliative care; borderline
patients have exactly 28 and 29 covered days. `Population.kinds` says which patient is which
and `Population.covered_days` the covered days of each opioid user, for the tests and the
benchmark `bench/bench_worklist.py`. Nothing here reads the project's code; no real person's
data: names, ids and codes are made up.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import IO, Any

import orjson

from fhir_fixtures import builders as b

__all__ = ["KINDS", "MIX_PER_1000", "Population", "practice_agb", "write_population"]

# Per 1000 patients. "oat-chronic" is on methadone and also has 40 days of oxycodone.
MIX_PER_1000: dict[str, int] = {
    "none": 800,
    "short": 80,
    "old": 15,
    "chronic": 50,
    "borderline-28": 5,
    "borderline-29": 5,
    "oat": 15,
    "oat-chronic": 5,
    "palliative": 15,
    "palliative-short": 10,
}
KINDS = tuple(MIX_PER_1000)
PRACTICES = 40
GPS_PER_PRACTICE = 3

_OXY_MGA = b.concept(
    (b.PRK, "57614", "OXYCODON TABLET MGA 10MG"), (b.GPK, "111430"), text="OXYCODON TABLET MGA 10MG"
)
_OXY_IR = b.concept((b.ATC, "N02AA05"), text="OXYCODON TABLET 5MG")
_TRAMADOL = b.concept((b.ATC, "N02AX02"), text="TRAMADOL CAPSULE 50MG")
_METHADONE = b.concept((b.ATC, "N07BC02", "methadon"), text="METHADON HCL DRANK 1MG/ML")
_OTHER_MEDS = (
    b.concept((b.ATC, "A02BC01"), text="OMEPRAZOL CAPSULE MSR 20MG"),
    b.concept((b.ATC, "M01AE01"), text="IBUPROFEN TABLET 400MG"),
    b.concept((b.ATC, "C09AA02"), text="ENALAPRIL TABLET 10MG"),
    b.concept((b.ATC, "A10BA02"), text="METFORMINE TABLET 500MG"),
)
_HYPERTENSION = b.concept((b.ICPC, "K86", "Hypertensie zonder orgaanbeschadiging"))
_BACK_PAIN = b.concept((b.ICPC, "L03", "Lage rugpijn zonder uitstraling"))
_PALLIATIVE = b.concept((b.SNOMED, "103735009", "Palliative care"))
_OPIOID_DEPENDENCE = b.concept((b.ICD10, "F11.2", "Opioid dependence"))
_GP_SPECIALTY = b.concept((b.AGB_SPECIALISM, "0100", "Huisartsen, niet nader gespecificeerd"))


def practice_agb(practice: int) -> str:
    """The (made-up) AGB code of practice number `practice`."""
    return f"0199{practice:04d}"


@dataclass
class Population:
    """Who is what, by design."""

    as_of: date
    kinds: dict[str, str] = field(default_factory=dict)
    """Patient id → kind (a key of `MIX_PER_1000`)."""
    covered_days: dict[str, int] = field(default_factory=dict)
    """Patient id → non-OAT opioid days in the look-back, for every patient with an opioid."""
    practice: dict[str, str] = field(default_factory=dict)
    """Patient id → the AGB code of the GP's practice."""
    resources: int = 0

    def of_kind(self, *kinds: str) -> set[str]:
        return {pid for pid, kind in self.kinds.items() if kind in kinds}


def _kind_sequence(patients: int, rng: random.Random) -> list[str]:
    """The mix, shuffled; each kind at least once when there are enough patients."""
    kinds = [kind for kind, per in MIX_PER_1000.items() for _ in range(per)]
    out = [kinds[i % len(kinds)] for i in range(patients)]
    rng.shuffle(out)
    return out


class _Writer:
    """One NDJSON stream per resource type, spread over `files` files as a server splits them."""

    def __init__(self, directory: Path, stack: ExitStack, files: int) -> None:
        self.directory = directory
        self.stack = stack
        self.files = files
        self.handles: dict[tuple[str, int], IO[bytes]] = {}
        self.count = 0

    def write(self, resource: dict[str, Any], spread: int = 0) -> None:
        kind = resource["resourceType"]
        part = spread % self.files
        handle = self.handles.get((kind, part))
        if handle is None:
            name = f"{kind}.ndjson" if self.files == 1 else f"{kind}.{part:03d}.ndjson"
            handle = self.stack.enter_context((self.directory / name).open("wb"))
            self.handles[(kind, part)] = handle
        handle.write(orjson.dumps(resource) + b"\n")
        self.count += 1


def _day(as_of: date, days_back: int) -> str:
    return (as_of - timedelta(days=days_back)).isoformat()


def _opioid_course(
    pid: str,
    n: int,
    product: dict[str, Any],
    start_back: int,
    days: int,
    as_of: date,
    role: str,
    *,
    beyond: int = 0,
) -> Iterator[dict[str, Any]]:
    """A prescription of `days` days starting `start_back` days ago (and `beyond` more days
    after that, into the future), and its dispense: it covers the same days, so they count once."""
    start = _day(as_of, start_back)
    supply = days + beyond
    yield b.med_request(
        f"{pid}-op{n}",
        product,
        patient=pid,
        authored=start,
        status="completed" if start_back >= supply else "active",
        dosages=[b.dosage(frequency=2, dose=b.qty(1, "1", "stuk"))],
        dispenseRequest=b.dispense_request(days=supply),
        requester=b.reference(role),
    )
    yield b.dispense(f"{pid}-od{n}", product, start, supply, subject=b.reference(f"Patient/{pid}"))


def _patient_resources(
    pid: str, kind: str, i: int, rng: random.Random, as_of: date, role: str
) -> tuple[list[dict[str, Any]], int]:
    """The resources of one patient, and their non-OAT covered days in the look-back."""
    year = 1930 + rng.randrange(75)
    resources: list[dict[str, Any]] = [
        b.patient(
            pid,
            birth_date=f"{year}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 28):02d}",
            gender=rng.choice(("female", "male")),
            postcode=f"38{rng.randrange(10, 30)} AB",
            city="Amersfoort",
            generalPractitioner=[b.reference(role)],
        )
    ]
    for n in range(5):
        klass = "AMB" if n % 2 == 0 else "VR"
        resources.append(b.encounter(f"{pid}-e{n}", klass, _day(as_of, 5 + 40 * n), patient=pid))
    resources.append(b.condition(f"{pid}-c0", _HYPERTENSION, patient=pid, onset="2015-01-01"))
    for n in range(2):
        resources.append(
            b.med_request(
                f"{pid}-m{n}",
                _OTHER_MEDS[(i + n) % len(_OTHER_MEDS)],
                patient=pid,
                authored=_day(as_of, 10 + 30 * n),
                dosages=[b.dosage(frequency=1, dose=b.qty(1, "1", "stuk"))],
                dispenseRequest=b.dispense_request(days=90),
            )
        )
    days = 0
    if kind == "short":
        days = 3 + i % 6
        resources += _opioid_course(pid, 0, _OXY_IR, 20 + i % 40, days, as_of, role)
    elif kind == "old":
        resources += _opioid_course(pid, 0, _OXY_MGA, 200, 60, as_of, role)
    elif kind in ("chronic", "borderline-28", "borderline-29"):
        days = {"borderline-28": 28, "borderline-29": 29}.get(kind, 29 + i % 60)
        product = _TRAMADOL if i % 3 == 0 else _OXY_MGA
        # Two courses back to back, the second running on after today (so it is current).
        first = days // 2
        resources += _opioid_course(pid, 0, product, days - 1, first, as_of, role)
        second = days - first
        resources += _opioid_course(pid, 1, product, second - 1, second, as_of, role, beyond=14)
    elif kind in ("oat", "oat-chronic"):
        resources.append(b.condition(f"{pid}-c1", _OPIOID_DEPENDENCE, patient=pid))
        resources += _opioid_course(pid, 0, _METHADONE, 60, 60, as_of, role)
        if kind == "oat-chronic":
            days = 40
            resources += _opioid_course(pid, 1, _OXY_IR, 45, days, as_of, role)
    elif kind in ("palliative", "palliative-short"):
        resources.append(b.condition(f"{pid}-c1", _PALLIATIVE, patient=pid))
        days = 45 if kind == "palliative" else 7
        resources += _opioid_course(pid, 0, _OXY_MGA, days + 1, days, as_of, role)
    elif i % 5 == 0:
        resources.append(b.condition(f"{pid}-c1", _BACK_PAIN, patient=pid, onset="2020-05-01"))
    return resources, days


def write_population(
    directory: Path,
    *,
    patients: int,
    as_of: date,
    seed: int = 15,
    files_per_type: int = 1,
) -> Population:
    """Write the export into `directory` (created when missing) and say who is what."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)  # noqa: S311 (made-up test data, repeatable by its seed)
    population = Population(as_of=as_of)
    with ExitStack() as stack:
        out = _Writer(directory, stack, files_per_type)
        roles: list[str] = []
        for practice in range(PRACTICES):
            for gp in range(GPS_PER_PRACTICE):
                ident = f"role-{practice:02d}-{gp}"
                roles.append(f"PractitionerRole/{ident}")
                out.write(
                    b.practitioner_role(
                        ident,
                        specialty=_GP_SPECIALTY,
                        organization_agb=practice_agb(practice),
                        practitioner=f"Practitioner/gp-{practice:02d}-{gp}",
                    )
                )
        for i, kind in enumerate(_kind_sequence(patients, rng)):
            pid = f"p{i:06d}"
            role = roles[i % len(roles)]
            resources, days = _patient_resources(pid, kind, i, rng, as_of, role)
            for resource in resources:
                out.write(resource, spread=i)
            population.kinds[pid] = kind
            population.practice[pid] = practice_agb((i % len(roles)) // GPS_PER_PRACTICE)
            if kind != "none":
                population.covered_days[pid] = days
        population.resources = out.count
    return population
