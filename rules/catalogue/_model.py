"""Record types of the catalogue (one per data-file row kind)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class ReleaseType(StrEnum):
    """Long- or short-acting, from product, dose form or text. No rule fires on ``UNKNOWN``."""

    LONG_ACTING = "long-acting"
    SHORT_ACTING = "short-acting"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Quantity:
    """A value in a canonical UCUM unit: mass ``mg``, rate ``ug/h``, volume ``mL``,
    concentration ``mg/mL``, or ``1`` for countable units (tablet, patch, stuk)."""

    value: float
    unit: str


@dataclass(frozen=True, slots=True)
class Substance:
    key: str
    kind: str  # opioid | sedative | naloxone
    name_nl: str
    name_en: str
    text_names: tuple[str, ...]
    strength: str | None  # strong | weak (opioids only)
    oat_capable: bool  # methadone / buprenorphine: OAT with an OUD indication
    sedative_class: str | None
    rxnorm_ingredient: str | None
    snomed_substance: str | None
    long_acting_form_nl: str | None = None
    """The substance's own long-acting form as a GP writes it (`long_acting_forms.csv`), e.g.
    "oxycodon MGA 2× daags"; None when there is none on the Dutch market (codeine)."""
    long_acting_form_en: str | None = None


@dataclass(frozen=True, slots=True)
class AtcEntry:
    atc: str
    is_prefix: bool
    substances: tuple[str, ...]
    kind: str
    is_oat_product: bool
    is_antitussive: bool
    sedative_class: str | None
    description: str


@dataclass(frozen=True, slots=True)
class Product:
    system: str  # logical system key, e.g. gstandaard_prk, rxnorm, snomed
    code: str
    display: str
    substances: tuple[str, ...]
    strength: Quantity | None  # canonical unit: mg, ug/h, mg/mL
    dose_form: str
    release_type: ReleaseType
    route: str | None
    atc: str | None
    is_patch: bool
    once_daily: bool = False
    """Made for once-daily dosing (a 24-hour form, `once_daily.csv`)."""


@dataclass(frozen=True, slots=True)
class DoseForm:
    system: str
    code: str
    display: str
    release_type: ReleaseType
    is_patch: bool
    route: str | None


@dataclass(frozen=True, slots=True)
class ReleasePattern:
    regex: re.Pattern[str]
    release_type: ReleaseType
    is_patch: bool
    route: str | None
    priority: int
    label: str


@dataclass(frozen=True, slots=True)
class OmeFactor:
    substance: str
    route_group: str  # oral | transdermal | *
    factor: float | None  # None: deliberately not converted
    per_unit: str  # mg | ug/h
    note: str


@dataclass(frozen=True, slots=True)
class ConditionCode:
    set_name: str
    system: str
    code: str
    match: str  # exact | prefix | range
    range_end: str | None
    requires_text: re.Pattern[str] | None
    display: str = ""


@dataclass(frozen=True, slots=True)
class RoleCode:
    kind: str
    system: str
    code: str
    is_prefix: bool
    role: str  # gp | specialist | unknown


@dataclass(frozen=True, slots=True)
class UnitInfo:
    dimension: str  # mass | rate | volume | concentration | count
    canonical: str
    factor: float


@dataclass(frozen=True, slots=True)
class CodeRef:
    system: str
    code: str


@dataclass(frozen=True, slots=True)
class PhysicalConsultDefinition:
    classes: frozenset[str]
    statuses: frozenset[str]
    never_classes: frozenset[str]
    remote_text: re.Pattern[str]
    remote_type_codes: frozenset[CodeRef]


@dataclass(frozen=True, slots=True)
class PregnancyObservationDefinition:
    loinc_codes: frozenset[str]
    pregnant_values: frozenset[CodeRef]
    not_pregnant_values: frozenset[CodeRef]
    max_age_days: int


@dataclass(frozen=True, slots=True)
class ClinicalDefinitions:
    physical_consult: PhysicalConsultDefinition
    pregnancy_observation: PregnancyObservationDefinition
    active_clinical_statuses: frozenset[str]
    excluded_verification_statuses: frozenset[str]
    surgical_category_codes: frozenset[CodeRef]
    surgical_text: re.Pattern[str]
    surgical_statuses: frozenset[str]
    agreement_category: CodeRef
    dispense_request_category: CodeRef
    stop_type_extension: str
    stop_type_codes_stopped: frozenset[str]
    stop_type_codes_paused: frozenset[str]
    excluded_request_statuses: frozenset[str]
    excluded_request_intents: frozenset[str]
    excluded_dispense_statuses: frozenset[str]
    excluded_statement_statuses: frozenset[str]
    no_end_after_days: int
    """A period longer than this has no end: its end is a way of writing "no end"."""
