"""The fact types: what the rules may know about one call, named and typed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any, NamedTuple

from rules.catalogue import Quantity, ReleaseType

CODEINE = "codeine"
"""The catalogue key of codeine (`rules/catalogue/data/substances.csv`)."""
COUGH_SET = "cough"
"""The condition set of a cough indication (`rules/catalogue/data/condition_sets.csv`)."""


class RecognisedBy(StrEnum):
    """How the medication was identified, in the order of docs/definitions.md §1 "Opioid"."""

    ATC = "atc"
    GSTANDAARD = "gstandaard"
    RXNORM = "rxnorm"
    SNOMED = "snomed"
    TEXT = "text"
    NONE = "none"


class OpioidStrength(StrEnum):
    """Weak: tramadol, codeine, dihydrocodeine (incl. combinations); all others strong."""

    STRONG = "strong"
    WEAK = "weak"


class PrescriberRole(StrEnum):
    GP = "gp"
    SPECIALIST = "specialist"
    UNKNOWN = "unknown"


class RoleSource(StrEnum):
    """Where a prescriber role came from (for the explanation)."""

    REQUESTER = "requester"  # the requester's PractitionerRole / Practitioner
    ORGANISATION = "organisation"  # the requester's organisation type (e.g. hospital)
    USER = "user"  # the PractitionerRole of context.userId
    ASSUMED = "assumed"  # nothing known; FactSettings.assume_gp_when_unknown made it GP
    NONE = "none"


class DurationSource(StrEnum):
    """The four duration sources of docs/definitions.md §1, in order of precedence."""

    PERIOD_OF_USE = "period_of_use"  # Nictiz ext-TimeInterval.Period (or its Duration)
    EXPECTED_SUPPLY_DURATION = "expected_supply_duration"  # dispenseRequest
    TIMING_BOUNDS = "timing_bounds"  # dosageInstruction.timing.repeat.bounds[x]
    QUANTITY = "quantity"  # dispenseRequest.quantity ÷ units per day
    NONE = "none"


class ExposureSource(StrEnum):
    MEDICATION_REQUEST = "MedicationRequest"
    MEDICATION_DISPENSE = "MedicationDispense"
    MEDICATION_STATEMENT = "MedicationStatement"


@dataclass(frozen=True, slots=True)
class FactSettings:
    """Rule-set parameters that change facts. The rule set supplies the values."""

    lookback_days: int = 90
    """Window for prior exposure, prescribers/pharmacies, chronic use (definitions §1 History)."""
    new_user_lookback_days: int = 365
    """Window for "new user" (rule 10)."""
    assume_gp_when_unknown: bool = True
    """An unknown prescriber role is reported as GP (role_source = ASSUMED)."""


@dataclass(frozen=True, slots=True)
class SubstanceRef:
    """An active substance as the catalogue knows it (names for texts and links)."""

    key: str  # stable catalogue key, English lower case, e.g. "oxycodone"
    name_nl: str  # e.g. "oxycodon" (apotheek.nl page name)
    name_en: str
    atc: str | None
    long_acting_form_nl: str | None = None
    """The substance's own long-acting form, e.g. "oxycodon MGA 2× daags" (rule 1); None when
    the catalogue knows none (codeine)."""
    long_acting_form_en: str | None = None


@dataclass(frozen=True, slots=True)
class MedicationFacts:
    """What a medication is, from its codes and text, independent of how it is ordered."""

    recognised_by: RecognisedBy
    coded: bool
    """True when a code (not only text) identified it; a text-only match is ``coded=False``."""
    codes: tuple[tuple[str, str], ...]
    """All (system, code) pairs found on the medication."""
    product_display: str | None
    substances: tuple[SubstanceRef, ...]
    """Opioid substances (for an opioid), else the sedative/naloxone substance, else empty."""
    is_opioid: bool
    is_oat_product: bool
    """ATC N07BC* (methadone / buprenorphine for opioid dependence)."""
    is_antitussive_codeine: bool
    """ATC R05DA04 (plain codeine as cough suppressant); `OrderFacts.is_antitussive_codeine`
    adds codeine ordered for cough."""
    strength: OpioidStrength | None
    """Weak/strong for an opioid (a combination is strong if any substance is), else None."""
    release_type: ReleaseType
    release_type_basis: str | None
    """What decided the release type, e.g. ``"gstandaard PRK 57614"``, ``"text: MGA"``."""
    is_patch: bool
    dose_form: str | None
    """Dose form display or code text as found (for explanations)."""
    strength_per_unit: Quantity | None
    """Opioid amount per countable unit: ``mg`` per tablet, ``ug/h`` per patch, ``mg/mL``."""
    route_hint: str | None
    """Route implied by the product (``oral``, ``transdermal``, ``parenteral``...)."""
    sedative_class: str | None
    """``benzodiazepine`` / ``z-drug`` / ``gabapentinoid`` for the rule-13 classes, else None."""
    is_naloxone: bool
    once_daily: bool = False
    """A long-acting product made for once-daily dosing (a 24-hour form; the catalogue's
    ``once_daily.csv``): rule 2 judges it against 1× a day."""

    @property
    def is_sedative(self) -> bool:
        return self.sedative_class is not None


@dataclass(frozen=True, slots=True)
class NextPractitioner:
    """Nictiz ``ext-MedicationAgreement.NextPractitioner``: who continues after handover."""

    reference: str | None
    display: str | None
    agb_ids: tuple[str, ...]
    organisation_ref: str | None
    role: PrescriberRole
    """GP when the named PractitionerRole/Practitioner/Organization is general practice."""


@dataclass(frozen=True, slots=True)
class OmeContribution:
    """One opioid's part of the patient's total oral morphine equivalents."""

    ref: str
    product_display: str | None
    ome_mg_per_day: float | None
    not_computable_reason: str | None
    is_draft: bool


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """Facts about one drafted MedicationRequest (context.draftOrders)."""

    order_id: str
    """The draft's order id (``cds_hooks.draft_orders``): ``"MedicationRequest/<id>"``, or
    ``"MedicationRequest/#<n>"`` for the n-th draft MedicationRequest without an id; an MP9
    agreement merged with its dispense request has the agreement's."""
    selected: bool
    """In context.selections, for a hook that judges selected orders only; else True."""
    status: str | None
    intent: str | None
    authored_on: date | None
    medication: MedicationFacts
    medication_resolved: bool
    """False when a medicationReference could not be resolved (or no medication chosen yet)."""

    is_oat: bool
    """OAT product (N07BC*) or methadone/buprenorphine with an opioid-use-disorder indication."""
    route: str | None
    """Normalised route: oral, transdermal, parenteral, rectal, sublingual, nasal, ...; None."""
    doses_per_day: float | None
    """Administrations per day from timing (frequency/period, code, timeOfDay/when)."""
    dose: Quantity | None
    """Amount per administration (highest of a range), canonical unit."""
    units_per_day: float | None
    """Countable units (or mL) per day, for quantity ÷ daily use."""
    as_needed: bool
    continuous: bool
    """Given as a rate (rateQuantity, rateRange, rateRatio): a pump, not doses."""
    ome_mg_per_day: float | None
    ome_not_computable_reason: str | None

    duration_days: int | None
    """Days covered by ONE supply (without repeats), from the first applicable source."""
    duration_indefinite: bool
    """Nictiz period of use with only a start: indefinite use (exceeds any limit)."""
    duration_source: DurationSource
    duration_by_source: Mapping[DurationSource, int]
    """Every source that gave a duration, for explanations and audits."""
    repeats_allowed: int
    """dispenseRequest.numberOfRepeatsAllowed (0 when absent)."""
    total_covered_days: int | None
    """duration_days × (1 + repeats_allowed); None when unknown or indefinite. This is the
    ``duration_days`` of the explanation (docs/definitions.md §2 Precise readings)."""
    start: date | None
    """First day of use: period of use start, boundsPeriod start, or authoredOn."""
    course_of_therapy: str | None
    """courseOfTherapyType code (``continuous``, ``acute``, ``seasonal``) as found."""
    prior_prescription_ref: str | None
    based_on_refs: tuple[str, ...]

    indication_codes: tuple[tuple[str, str], ...]
    """(system URI, code) of reasonCode, of Conditions in reasonReference, and of the current
    encounter's diagnoses / reasonCode (rule 6: "or the encounter diagnosis")."""
    indication_sets: frozenset[str]
    """Condition sets (see Catalogue.condition_set_names) hit by the indication codes."""
    has_indication: bool
    """The order itself has a reasonCode / reasonReference, coded or free text (rule 7);
    an encounter diagnosis alone does not count."""

    prescriber_role: PrescriberRole
    prescriber_role_source: RoleSource
    requester_ref: str | None
    requester_agb: str | None
    """AGB-Z of the prescribing person (via PractitionerRole.practitioner when needed)."""
    organisation_ref: str | None
    organisation_agb: str | None
    next_practitioner: NextPractitioner | None
    pharmacy_id: str | None
    """dispenseRequest.performer (intended pharmacy), AGB or reference."""

    # Delegations so rules can write ``order.is_opioid`` etc.
    @property
    def recognised_by(self) -> RecognisedBy:
        return self.medication.recognised_by

    @property
    def coded(self) -> bool:
        return self.medication.coded

    @property
    def is_opioid(self) -> bool:
        return self.medication.is_opioid

    @property
    def is_antitussive_codeine(self) -> bool:
        """Codeine as a cough suppressant (docs/definitions.md §1 "Antitussive codeine"): an
        ATC R05DA04 product, or codeine (alone or with paracetamol) whose indication is in the
        catalogue's `cough` condition set. The agreement rules (about pain) leave it alone."""
        medication = self.medication
        if medication.is_antitussive_codeine:
            return True
        return (
            COUGH_SET in self.indication_sets
            and bool(medication.substances)
            and all(substance.key == CODEINE for substance in medication.substances)
        )

    @property
    def strength(self) -> OpioidStrength | None:
        return self.medication.strength

    @property
    def release_type(self) -> ReleaseType:
        return self.medication.release_type

    @property
    def is_patch(self) -> bool:
        return self.medication.is_patch

    @property
    def once_daily(self) -> bool:
        return self.medication.once_daily

    @property
    def substances(self) -> tuple[SubstanceRef, ...]:
        return self.medication.substances

    @property
    def product_display(self) -> str | None:
        return self.medication.product_display

    @property
    def is_sedative(self) -> bool:
        return self.medication.is_sedative

    def explain(self) -> dict[str, Any]:
        """JSON-ready facts for the card explanation (no patient identifiers)."""
        return {
            "order_id": self.order_id,
            "product": self.medication.product_display,
            "recognised_by": self.medication.recognised_by.value,
            "coded": self.medication.coded,
            "substances": [s.key for s in self.medication.substances],
            "strength": self.medication.strength.value if self.medication.strength else None,
            "release_type": self.medication.release_type.value,
            "release_type_basis": self.medication.release_type_basis,
            "is_oat": self.is_oat,
            "route": self.route,
            "doses_per_day": self.doses_per_day,
            "as_needed": self.as_needed,
            "ome_mg_per_day": self.ome_mg_per_day,
            "ome_not_computable_reason": self.ome_not_computable_reason,
            "duration_days": self.total_covered_days,
            "supply_duration_days": self.duration_days,
            "duration_indefinite": self.duration_indefinite,
            "duration_source": self.duration_source.value,
            "repeats_allowed": self.repeats_allowed,
            "indication_sets": sorted(self.indication_sets),
            "prescriber_role": self.prescriber_role.value,
            "prescriber_role_source": self.prescriber_role_source.value,
        }


class OpioidExposure(NamedTuple):
    """One prior opioid prescription, dispense or use statement (docs/definitions.md §1 History).

    A NamedTuple, not a frozen dataclass: as immutable, and a call makes one for every opioid
    of the history, where a frozen dataclass's ``__init__`` costs four times as much (each
    field set through ``object.__setattr__``, docs/performance.md)."""

    source: ExposureSource
    ref: str
    substances: tuple[str, ...]
    # Substance keys (e.g. ``("oxycodone",)``).
    product_display: str | None
    prescribed_on: date | None
    # authoredOn (request), whenHandedOver (dispense), dateAsserted/effective start (statement).
    start: date | None
    end: date | None
    # Last covered day (inclusive); None when unknown. Indefinite use ends ``today``.
    indefinite: bool
    prescriber_id: str | None
    # Person identity: AGB, else UZI, else Practitioner reference, else requester reference.
    prescriber_role: PrescriberRole
    pharmacy_id: str | None
    is_oat: bool
    is_active: bool
    # Counts as current medication today (for OME, sedative combination).
    release_type: ReleaseType
    ome_mg_per_day: float | None
    ome_not_computable_reason: str | None
    next_practitioner: NextPractitioner | None
    has_handover: bool
    # NextPractitioner names the current user, a GP role, or the requester's organisation.
    treatment: str | None = None
    # Nictiz MP9 pharmaceutical treatment (``ext-PharmaceuticalTreatment.Identifier``,
    # ``system|value``): the building blocks of one treatment share it.


@dataclass(frozen=True, slots=True)
class ActiveMedication:
    """An active (or drafted) medication of a rule-relevant class (sedative, naloxone)."""

    ref: str
    display: str | None
    sedative_class: str | None
    substances: tuple[str, ...]
    is_draft: bool
    selected: bool


@dataclass(frozen=True, slots=True)
class SurgicalProcedure:
    ref: str
    performed_on: date | None
    code: tuple[str, str] | None
    display: str | None


@dataclass(frozen=True, slots=True)
class PatientFacts:
    """Facts about the patient and their history, relative to ``Facts.today``."""

    patient_id: str | None
    birth_date: date | None
    age: int | None
    postcode: str | None
    """Digits of the Dutch postcode only (e.g. ``"3771"``), for referral routing."""
    pregnant: bool
    condition_sets: frozenset[str]
    """Names of condition sets with an active Condition (or pregnancy Observation)."""

    history: tuple[OpioidExposure, ...]
    """Prior opioid exposures, oldest first; excludes entered-in-error and the drafts."""
    prior_opioid_intervals: tuple[tuple[date, date], ...]
    """The days each prior exposure (OAT excluded) covers in the look-back window up to
    today: what `prior_opioid_days` counts, for rules that add an order's days to them."""
    prior_opioid_days: int
    """Covered days (union of intervals, OAT excluded) in [today − lookback_days + 1, today].
    The look-back windows of this class all have that shape (90 days including today)."""
    opioid_days_new_user_window: int
    """Covered days in the new-user window, OAT included (a patient on methadone is not a new
    user); 0 means a new user (rule 10)."""
    last_prior_prescription: OpioidExposure | None
    """Most recent opioid MedicationRequest (OAT excluded) prescribed in the look-back; when the
    history has no requests there, the most recent dispense."""
    latest_supply_end: Mapping[tuple[str, ReleaseType], date]
    """Last covered day per substance key and release type (OAT excluded), any time before or
    after today: a long-acting supply says nothing about a short-acting order (rule 11)."""
    prescribers_in_lookback: frozenset[str]
    """Distinct prescriber ids in the look-back, OAT included; the rule adds the order's own."""
    pharmacies_in_lookback: frozenset[str]
    """Distinct pharmacy ids (dispenses and intended pharmacies), OAT included."""

    physical_consult_dates: tuple[date, ...]
    """Dates of physical consults (docs/definitions.md §1), sorted, incl. the current encounter."""
    last_physical_consult: date | None
    current_encounter_physical: bool | None
    """None when context.encounterId is absent or the Encounter was not provided."""

    active_sedatives: tuple[ActiveMedication, ...]
    """Active sedative MedicationRequests/Statements plus drafted sedatives."""
    surgical_procedures: tuple[SurgicalProcedure, ...]
    """Surgical Procedures (post-operative context of rule 8), oldest first."""

    total_ome_mg_per_day: float
    """Sum of computable OME over active and drafted opioids (OAT included)."""
    ome_contributions: tuple[OmeContribution, ...]
    ome_unconverted: tuple[str, ...]
    """Product displays (or refs) whose OME could not be computed."""


class ProblemReason(StrEnum):
    """Why something could not be read or used: a small fixed vocabulary, which the rule set
    translates (`incomplete-check` texts `reason_<code>`; an unknown code is shown as is)."""

    UNREADABLE = "unreadable"
    NOT_STATED = "not_stated"
    NOT_UNDERSTOOD = "not_understood"
    """A modifierExtension the readers do not know: read as if it were absent."""
    NOT_RESOLVED = "not_resolved"
    """A medicationReference to no Medication of the request."""
    UNIT_NOT_CONVERTIBLE = "unit_not_convertible"
    DOSE_UNKNOWN = "dose_unknown"
    STRENGTH_UNKNOWN = "strength_unknown"
    NO_CONVERSION_FACTOR = "no_conversion_factor"
    NESTED_TOO_DEEP = "nested_too_deep"
    CUT_OFF = "cut_off"
    """A search whose paging stopped: part of the history did not come."""
    ENTRIES_UNREADABLE = "entries_unreadable"
    """A search whose entries (some of them) hold no resource that can be read."""
    NOT_AVAILABLE = "not_available"
    """A search a rule needs or reads that did not come at all."""
    CHECK_FAILED = "check_failed"
    """A rule raised (a service error)."""


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    """Something the facts builder could not read, so a check may be incomplete
    (docs/definitions.md, `incomplete-check`). Carries no patient data: `what` names the kind
    of thing, `reason` why (a `ProblemReason` code), `ref` the order id or resource reference
    concerned, when there is one; `detail` an error type or the OME reason, for the log and
    the explanation."""

    what: str
    reason: str
    ref: str | None = None
    detail: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Facts:
    """All facts of one hook call."""

    hook: str
    today: date
    orders: list[OrderFacts]
    """One per drafted MedicationRequest, in draftOrders order."""
    patient: PatientFacts
    user_ref: str | None
    user_role: PrescriberRole
    """Role of context.userId (from its PractitionerRole), UNKNOWN when not resolvable."""
    encounter_ref: str | None
    problems: tuple[Problem, ...] = field(default=())
    """What could not be read (e.g. an unresolved medicationReference): the `incomplete-check`
    card names each, and the engine logs them (kind and reason only)."""

    @property
    def opioid_orders(self) -> list[OrderFacts]:
        return [o for o in self.orders if o.is_opioid]

    @property
    def sedative_orders(self) -> list[OrderFacts]:
        return [o for o in self.orders if o.is_sedative]
