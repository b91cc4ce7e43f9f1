"""Loading the data files into the ``Catalogue`` lookups.

Data errors (a missing ``source``, an unknown release type, a product naming an unknown
substance) raise ``CatalogueError`` at start-up: better a failed boot than a silent gap.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from rules.catalogue._model import (
    AtcEntry,
    ClinicalDefinitions,
    CodeRef,
    ConditionCode,
    DoseForm,
    OmeFactor,
    PhysicalConsultDefinition,
    PregnancyObservationDefinition,
    Product,
    Quantity,
    ReleasePattern,
    ReleaseType,
    RoleCode,
    Substance,
    UnitInfo,
)
from rules.catalogue.units import Units

DATA_DIR = Path(__file__).parent / "data"


class CatalogueError(ValueError):
    """A data file is missing, malformed or inconsistent."""


def fold_text(text: str) -> str:
    """Lower case without diacritics (codeïne → codeine), for name matching."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()


def _read_csv(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = [
                {k: (v or "").strip() for k, v in row.items() if k}
                for row in csv.DictReader(handle)
            ]
    except OSError as exc:
        raise CatalogueError(f"cannot read {path}: {exc}") from exc
    for number, row in enumerate(rows, start=2):
        if not row.get("source"):
            raise CatalogueError(f"{path.name}:{number}: every row needs a source")
    return rows


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        with path.open(encoding="utf-8") as handle:
            loaded = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogueError(f"cannot read {path}: {exc}") from exc
    if not isinstance(loaded, dict):
        raise CatalogueError(f"{path.name}: expected a mapping at the top")
    return loaded


def _bool(value: str, where: str) -> bool:
    if value in ("true", "false"):
        return value == "true"
    raise CatalogueError(f"{where}: expected true/false, got {value!r}")


def _release(value: str, where: str) -> ReleaseType:
    try:
        return ReleaseType(value)
    except ValueError as exc:
        raise CatalogueError(f"{where}: unknown release type {value!r}") from exc


def _keys(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split("|") if part.strip())


class Catalogue:
    """The terminology catalogue, loaded once; every lookup is a dict access or a regex.

    Systems are referred to by logical keys (``atc``, ``gstandaard_prk``, ``rxnorm``,
    ``snomed``, ``edqm``, ``icpc``, ``icd10``, ...) defined in ``data/systems.yaml``.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._system_by_uri: dict[str, str] = {}
        self._uri_by_system: dict[str, str] = {}  # the first (preferred) URI of each key
        self._substances: dict[str, Substance] = {}
        self._substance_by_code: dict[tuple[str, str], str] = {}
        self._atc_exact: dict[str, AtcEntry] = {}
        self._atc_prefixes: list[AtcEntry] = []
        self._products: dict[tuple[str, str], Product] = {}
        self._dose_forms: dict[tuple[str, str], DoseForm] = {}
        self._release_patterns: list[ReleasePattern] = []
        self._routes_by_code: dict[tuple[str, str], str] = {}
        self._route_patterns: list[tuple[re.Pattern[str], str]] = []
        self._ome: dict[tuple[str, str], OmeFactor] = {}
        self._conditions_exact: dict[tuple[str, str], list[ConditionCode]] = {}
        self._conditions_other: dict[str, list[ConditionCode]] = {}
        self._roles_exact: dict[tuple[str, str], RoleCode] = {}
        self._roles_prefix: dict[str, list[RoleCode]] = {}
        self._role_text: list[tuple[re.Pattern[str], str]] = []
        self.units = Units({}, {})
        self._timing_codes: dict[str, float] = {}
        self._once_daily_text: list[re.Pattern[str]] = []
        self._substance_text: re.Pattern[str] | None = None
        self._substance_by_name: dict[str, str] = {}
        self.condition_set_names: frozenset[str] = frozenset()
        self._load()
        self.clinical: ClinicalDefinitions = self._load_clinical()

    # ----------------------------------------------------------------- loading
    def _load(self) -> None:
        d = self.data_dir
        self._load_systems(_read_yaml(d / "systems.yaml"))
        self._load_substances(_read_csv(d / "substances.csv"))
        self._load_atc(_read_csv(d / "atc.csv"))
        self._load_units(_read_csv(d / "units.csv"), _read_csv(d / "time_units.csv"))
        self._load_long_acting_forms(_read_csv(d / "long_acting_forms.csv"))
        self._load_products(_read_csv(d / "products.csv"))
        self._load_once_daily(_read_csv(d / "once_daily.csv"))
        self._load_dose_forms(_read_csv(d / "dose_forms.csv"))
        self._load_release_text(_read_csv(d / "release_text.csv"))
        self._load_routes(_read_csv(d / "routes.csv"), _read_csv(d / "route_text.csv"))
        self._load_ome(_read_csv(d / "ome_factors.csv"))
        self._load_conditions(_read_csv(d / "condition_sets.csv"))
        self._load_roles(_read_csv(d / "roles.csv"))
        for row in _read_csv(d / "timing_codes.csv"):
            self._timing_codes[row["code"].upper()] = float(row["doses_per_day"])

    def _system(self, key: str, where: str) -> str:
        if key not in self._system_keys:
            raise CatalogueError(f"{where}: unknown system key {key!r}")
        return key

    def _load_systems(self, data: Mapping[str, Any]) -> None:
        systems = data.get("systems")
        if not isinstance(systems, dict):
            raise CatalogueError("systems.yaml: 'systems' mapping missing")
        for key, block in systems.items():
            if not isinstance(block, dict) or not block.get("source") or not block.get("uris"):
                raise CatalogueError(f"systems.yaml: {key} needs uris and a source")
            for uri in block["uris"]:
                self._system_by_uri[str(uri)] = str(key)
            self._uri_by_system[str(key)] = str(block["uris"][0])
        self._system_keys = frozenset(str(k) for k in systems)

    def _load_substances(self, rows: Iterable[dict[str, str]]) -> None:
        for row in rows:
            key = row["key"]
            names = tuple(fold_text(n) for n in _keys(row["text_names"]))
            substance = Substance(
                key=key,
                kind=row["kind"],
                name_nl=row["name_nl"],
                name_en=row["name_en"],
                text_names=names,
                strength=row["strength"] or None,
                oat_capable=_bool(row["oat_capable"], f"substances.csv {key}"),
                sedative_class=row["sedative_class"] or None,
                rxnorm_ingredient=row["rxnorm_ingredient"] or None,
                snomed_substance=row["snomed_substance"] or None,
            )
            if substance.kind not in ("opioid", "sedative", "naloxone"):
                raise CatalogueError(f"substances.csv {key}: unknown kind {substance.kind!r}")
            if substance.kind == "opioid" and substance.strength not in ("strong", "weak"):
                raise CatalogueError(f"substances.csv {key}: an opioid needs strong/weak")
            self._substances[key] = substance
            if substance.rxnorm_ingredient:
                self._substance_by_code[("rxnorm", substance.rxnorm_ingredient)] = key
            if substance.snomed_substance:
                self._substance_by_code[("snomed", substance.snomed_substance)] = key
            for name in names:
                self._substance_by_name[name] = key
        # Longest names first so "dihydrocodeine" wins over "codeine"; a letter before the
        # name rules out matches inside other words ("nicomorfine" is not "morfine").
        alternatives = sorted(self._substance_by_name, key=len, reverse=True)
        self._substance_text = re.compile(
            r"(?<![a-z])(" + "|".join(re.escape(n) for n in alternatives) + r")"
        )

    def _load_long_acting_forms(self, rows: Iterable[dict[str, str]]) -> None:
        """A substance's own long-acting form (rule 1 names it); an empty form says there is
        none, so no other opioid is proposed."""
        for row in rows:
            key = row["substance"]
            substance = self._substances.get(key)
            if substance is None or substance.kind != "opioid":
                raise CatalogueError(f"long_acting_forms.csv: unknown opioid {key!r}")
            if bool(row["form_nl"]) != bool(row["form_en"]):
                raise CatalogueError(f"long_acting_forms.csv {key}: give the form in nl and en")
            self._substances[key] = dataclasses.replace(
                substance,
                long_acting_form_nl=row["form_nl"] or None,
                long_acting_form_en=row["form_en"] or None,
            )

    def _load_once_daily(self, rows: Iterable[dict[str, str]]) -> None:
        """Products made for once-daily dosing: by code, or by a pattern in the product name."""
        for row in rows:
            where = f"once_daily.csv {row['value']}"
            if row["kind"] == "text":
                try:
                    self._once_daily_text.append(re.compile(row["value"], re.IGNORECASE))
                except re.error as exc:
                    raise CatalogueError(f"{where}: {exc}") from exc
            elif row["kind"] == "product":
                system = self._system(row["system"], where)
                product = self._products.get((system, row["value"]))
                if product is None:
                    raise CatalogueError(f"{where}: not a product of products.csv")
                self._products[(system, row["value"])] = dataclasses.replace(
                    product, once_daily=True
                )
            else:
                raise CatalogueError(f"{where}: kind must be text or product")

    def _load_atc(self, rows: Iterable[dict[str, str]]) -> None:
        for row in rows:
            where = f"atc.csv {row['atc']}"
            substances = _keys(row["substances"])
            for key in substances:
                if key not in self._substances:
                    raise CatalogueError(f"{where}: unknown substance {key!r}")
            entry = AtcEntry(
                atc=row["atc"].upper(),
                is_prefix=row["match"] == "prefix",
                substances=substances,
                kind=row["kind"],
                is_oat_product=_bool(row["is_oat_product"], where),
                is_antitussive=_bool(row["is_antitussive"], where),
                sedative_class=row["sedative_class"] or None,
                description=row["description"],
            )
            if entry.is_prefix:
                self._atc_prefixes.append(entry)
            else:
                self._atc_exact[entry.atc] = entry
        self._atc_prefixes.sort(key=lambda e: len(e.atc), reverse=True)

    def _load_units(
        self, rows: Iterable[dict[str, str]], time_rows: Iterable[dict[str, str]]
    ) -> None:
        self.units = Units(
            {
                row["unit"]: UnitInfo(row["dimension"], row["canonical"], float(row["factor"]))
                for row in rows
            },
            {row["unit"]: float(row["days"]) for row in time_rows},
        )

    def _load_products(self, rows: Iterable[dict[str, str]]) -> None:
        for row in rows:
            where = f"products.csv {row['system']} {row['code']}"
            system = self._system(row["system"], where)
            substances = _keys(row["substances"])
            for key in substances:
                if key not in self._substances:
                    raise CatalogueError(f"{where}: unknown substance {key!r}")
            strength: Quantity | None = None
            if row["strength_value"]:
                value, unit = float(row["strength_value"]), row["strength_unit"]
                strength = self.units.to_canonical(value, unit)
                if strength is None:
                    raise CatalogueError(f"{where}: unknown unit {row['strength_unit']!r}")
            route = row["route"] or None
            self._products[(system, row["code"])] = Product(
                system=system,
                code=row["code"],
                display=row["display"],
                substances=substances,
                strength=strength,
                dose_form=row["dose_form"],
                release_type=_release(row["release_type"], where),
                route=route,
                atc=row["atc"].upper() or None,
                is_patch=route == "transdermal",
            )

    def _load_dose_forms(self, rows: Iterable[dict[str, str]]) -> None:
        for row in rows:
            where = f"dose_forms.csv {row['system']} {row['code']}"
            system = self._system(row["system"], where)
            self._dose_forms[(system, row["code"])] = DoseForm(
                system=system,
                code=row["code"],
                display=row["display"],
                release_type=_release(row["release_type"], where),
                is_patch=_bool(row["is_patch"], where),
                route=row["route"] or None,
            )

    def _load_release_text(self, rows: Iterable[dict[str, str]]) -> None:
        for row in rows:
            where = f"release_text.csv {row['pattern']}"
            flags = 0 if _bool(row["case_sensitive"], where) else re.IGNORECASE
            try:
                regex = re.compile(row["pattern"], flags)
            except re.error as exc:
                raise CatalogueError(f"{where}: {exc}") from exc
            self._release_patterns.append(
                ReleasePattern(
                    regex=regex,
                    release_type=_release(row["release_type"], where),
                    is_patch=_bool(row["is_patch"], where),
                    route=row["route"] or None,
                    priority=int(row["priority"]),
                    label=row["pattern"],
                )
            )
        self._release_patterns.sort(key=lambda p: p.priority)

    def _load_routes(
        self, rows: Iterable[dict[str, str]], text_rows: Iterable[dict[str, str]]
    ) -> None:
        for row in rows:
            system = self._system(row["system"], f"routes.csv {row['code']}")
            self._routes_by_code[(system, row["code"])] = row["route"]
        for row in text_rows:
            self._route_patterns.append((re.compile(row["pattern"], re.IGNORECASE), row["route"]))

    def _load_ome(self, rows: Iterable[dict[str, str]]) -> None:
        for row in rows:
            if row["substance"] not in self._substances:
                raise CatalogueError(f"ome_factors.csv: unknown substance {row['substance']!r}")
            factor = float(row["factor"]) if row["factor"] else None
            entry = OmeFactor(
                row["substance"], row["route_group"], factor, row["per_unit"], row["note"]
            )
            self._ome[(entry.substance, entry.route_group)] = entry

    def _load_conditions(self, rows: Iterable[dict[str, str]]) -> None:
        names: set[str] = set()
        for row in rows:
            where = f"condition_sets.csv {row['set']} {row['code']}"
            system = self._system(row["system"], where)
            code = row["code"].upper()
            range_end: str | None = None
            if row["match"] == "range":
                code, _, end = code.partition("-")
                range_end = end
            elif row["match"] not in ("exact", "prefix"):
                raise CatalogueError(f"{where}: match must be exact, prefix or range")
            requires = row["requires_text"]
            entry = ConditionCode(
                set_name=row["set"],
                system=system,
                code=code,
                match=row["match"],
                range_end=range_end,
                requires_text=re.compile("|".join(fold_text(p) for p in _keys(requires)))
                if requires
                else None,
                display=row["display"],
            )
            names.add(entry.set_name)
            if entry.match == "exact":
                self._conditions_exact.setdefault((system, code), []).append(entry)
            else:
                self._conditions_other.setdefault(system, []).append(entry)
        self.condition_set_names = frozenset(names)

    def _load_roles(self, rows: Iterable[dict[str, str]]) -> None:
        for row in rows:
            role = row["role"]
            if role not in ("gp", "specialist", "unknown"):
                raise CatalogueError(f"roles.csv {row['code']}: unknown role {role!r}")
            if row["kind"] == "role_text":
                pattern = re.compile(
                    r"(?<![a-z])" + re.escape(fold_text(row["code"])) + r"(?![a-z])"
                )
                self._role_text.append((pattern, role))
                continue
            system = self._system(row["system"], f"roles.csv {row['code']}")
            entry = RoleCode(row["kind"], system, row["code"], row["match"] == "prefix", role)
            if entry.is_prefix:
                self._roles_prefix.setdefault(system, []).append(entry)
            else:
                self._roles_exact[(system, entry.code)] = entry
        for entries in self._roles_prefix.values():
            entries.sort(key=lambda e: len(e.code), reverse=True)

    def _load_clinical(self) -> ClinicalDefinitions:
        data = _read_yaml(self.data_dir / "clinical.yaml")
        try:
            consult = data["physical_consult"]
            pregnancy = data["pregnancy_observation"]
            status = data["condition_status"]
            surgical = data["surgical_procedure"]
            agreement = data["medication_agreement"]
            history = data["history"]
            period_of_use = data["period_of_use"]
            for block in (consult, pregnancy, status, surgical, agreement, history, period_of_use):
                if not block.get("source"):
                    raise CatalogueError("clinical.yaml: every block needs a source")

            def refs(items: Iterable[Mapping[str, Any]]) -> frozenset[CodeRef]:
                return frozenset(CodeRef(str(i["system"]), str(i["code"])) for i in items)

            def words(patterns: Iterable[str]) -> re.Pattern[str]:
                return re.compile("|".join(re.escape(fold_text(p)) for p in patterns))

            return ClinicalDefinitions(
                physical_consult=PhysicalConsultDefinition(
                    classes=frozenset(consult["classes"]),
                    statuses=frozenset(consult["statuses"]),
                    never_classes=frozenset(consult["never_classes"]),
                    remote_text=words(consult["remote_text_patterns"]),
                    remote_type_codes=refs(consult["remote_type_codes"]),
                ),
                pregnancy_observation=PregnancyObservationDefinition(
                    loinc_codes=frozenset(pregnancy["loinc_codes"]),
                    pregnant_values=refs(pregnancy["pregnant_values"]),
                    not_pregnant_values=refs(pregnancy["not_pregnant_values"]),
                    max_age_days=int(pregnancy["max_age_days"]),
                ),
                active_clinical_statuses=frozenset(status["active_clinical_statuses"]),
                excluded_verification_statuses=frozenset(status["excluded_verification_statuses"]),
                surgical_category_codes=refs(surgical["category_codes"]),
                surgical_text=words(surgical["text_patterns"]),
                surgical_statuses=frozenset(surgical["statuses"]),
                agreement_category=CodeRef(**agreement["agreement_category"]),
                dispense_request_category=CodeRef(**agreement["dispense_request_category"]),
                stop_type_extension=str(agreement["stop_type_extension"]),
                stop_type_codes_stopped=frozenset(agreement["stop_type_codes_stopped"]),
                stop_type_codes_paused=frozenset(agreement["stop_type_codes_paused"]),
                excluded_request_statuses=frozenset(history["excluded_request_statuses"]),
                excluded_request_intents=frozenset(history["excluded_request_intents"]),
                excluded_dispense_statuses=frozenset(history["excluded_dispense_statuses"]),
                excluded_statement_statuses=frozenset(history["excluded_statement_statuses"]),
                no_end_after_days=int(period_of_use["no_end_after_days"]),
            )
        except (KeyError, TypeError) as exc:
            raise CatalogueError(f"clinical.yaml: missing or malformed entry {exc}") from exc

    # ----------------------------------------------------------------- lookups
    def system_key(self, uri: str) -> str | None:
        """Logical key of a code/identifier system URI (``None`` when not known)."""
        return self._system_by_uri.get(uri)

    def system_uri(self, key: str) -> str | None:
        """The preferred URI of a logical system key (the first in ``systems.yaml``)."""
        return self._uri_by_system.get(key)

    def products(self) -> tuple[Product, ...]:
        """Every product of ``products.csv``, in file order."""
        return tuple(self._products.values())

    def condition_codes(self) -> tuple[ConditionCode, ...]:
        """Every code of ``condition_sets.csv`` (exact, prefix and range rows)."""
        exact = [entry for entries in self._conditions_exact.values() for entry in entries]
        other = [entry for entries in self._conditions_other.values() for entry in entries]
        return (*exact, *other)

    def substance(self, key: str) -> Substance | None:
        return self._substances.get(key)

    def substance_by_code(self, system: str, code: str) -> Substance | None:
        """An ingredient/substance code (RxNorm IN, SNOMED substance)."""
        key = self._substance_by_code.get((system, code))
        return self._substances.get(key) if key else None

    def atc(self, code: str) -> AtcEntry | None:
        """Exact ATC entry, else the longest prefix entry (e.g. N05BA99 → N05BA)."""
        code = code.strip().upper()
        entry = self._atc_exact.get(code)
        if entry is not None:
            return entry
        for prefix in self._atc_prefixes:
            if code.startswith(prefix.atc):
                return prefix
        return None

    def product(self, system: str, code: str) -> Product | None:
        return self._products.get((system, code.strip()))

    def dose_form(self, system: str, code: str) -> DoseForm | None:
        return self._dose_forms.get((system, code.strip()))

    def release_from_text(self, text: str) -> ReleasePattern | None:
        """The first (by priority) release pattern found in a product text."""
        for pattern in self._release_patterns:
            if pattern.regex.search(text):
                return pattern
        return None

    def once_daily(self, product: Product | None, texts: Iterable[str]) -> bool:
        """Made for once-daily dosing: a catalogue product marked so, or a 24-hour form named
        in the product's texts (definitions §1 Doses per day; rule 2)."""
        if product is not None and product.once_daily:
            return True
        names = [*texts, product.display] if product is not None else list(texts)
        return any(pattern.search(name) for pattern in self._once_daily_text for name in names)

    def route_from_code(self, system: str, code: str) -> str | None:
        return self._routes_by_code.get((system, code.strip()))

    def route_from_text(self, text: str) -> str | None:
        for pattern, route in self._route_patterns:
            if pattern.search(text):
                return route
        return None

    def substances_in_text(self, text: str) -> tuple[str, ...]:
        """Substance keys named in a free text, in order of appearance, without repeats."""
        if self._substance_text is None or not text:
            return ()
        found: list[str] = []
        for match in self._substance_text.finditer(fold_text(text)):
            key = self._substance_by_name[match.group(1)]
            if key not in found:
                found.append(key)
        return tuple(found)

    def ome_factor(self, substance: str, route_group: str) -> OmeFactor | None:
        """Route-specific factor, else the substance's catch-all (``*``) row."""
        return self._ome.get((substance, route_group)) or self._ome.get((substance, "*"))

    def has_ome_rows(self, substance: str) -> bool:
        return any(key[0] == substance for key in self._ome)

    def condition_sets(self, system: str, code: str, text: str = "") -> frozenset[str]:
        """Names of the condition sets a code belongs to (prefix/range aware)."""
        code = code.strip().upper()
        hits: set[str] = set()
        candidates = list(self._conditions_exact.get((system, code), ()))
        for entry in self._conditions_other.get(system, ()):
            if entry.match == "prefix" and code.startswith(entry.code):
                candidates.append(entry)
            elif entry.match == "range" and entry.range_end is not None:
                head = code[: len(entry.code)]
                if entry.code <= head <= entry.range_end:
                    candidates.append(entry)
        folded = fold_text(text) if text else ""
        for entry in candidates:
            if entry.requires_text is None or entry.requires_text.search(folded):
                hits.add(entry.set_name)
        return frozenset(hits)

    def role_for_code(self, system: str, code: str) -> str | None:
        """gp / specialist / unknown for a role, specialism, organisation type or AGB code."""
        code = code.strip()
        entry = self._roles_exact.get((system, code))
        if entry is not None:
            return entry.role
        for prefix in self._roles_prefix.get(system, ()):
            if code.startswith(prefix.code):
                return prefix.role
        return None

    def role_for_text(self, text: str) -> str | None:
        folded = fold_text(text)
        for pattern, role in self._role_text:
            if pattern.search(folded):
                return role
        return None

    def timing_code_doses(self, code: str) -> float | None:
        return self._timing_codes.get(code.strip().upper())


@functools.lru_cache(maxsize=8)
def _load_cached(data_dir: Path) -> Catalogue:
    return Catalogue(data_dir)


def load_catalogue(path: Path | None = None) -> Catalogue:
    """Load the catalogue once (cached per directory); default: the package data."""
    return _load_cached((path or DATA_DIR).resolve())
