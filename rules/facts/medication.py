"""Medication facts: what a medication is, how it is dosed, its OME.

Pure functions over defensive JSON access (``rules.facts.fhir_access``) and the catalogue. They are
used for drafted orders and for history alike. Definitions: docs/definitions.md §1.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

from rules.catalogue import AtcEntry, Catalogue, Product, Quantity, ReleaseType
from rules.facts.fhir_access import (
    as_dict,
    as_int,
    as_list,
    as_number,
    as_str,
    codings,
    concept_text,
    dicts,
    parse_date,
)
from rules.facts.model import (
    MedicationFacts,
    OpioidStrength,
    RecognisedBy,
    SubstanceRef,
)
from rules.facts.quantities import duration_days, quantity_of
from rules.facts.strength_text import opioid_strength_in_text

JsonDict = Mapping[str, Any]

_GSTANDAARD = ("gstandaard_prk", "gstandaard_gpk", "gstandaard_hpk", "gstandaard_zi")


# --------------------------------------------------------------------------- recognition
class Ingredient(NamedTuple):
    """One ``Medication.ingredient``: what names it and its strength, unit not yet canonical."""

    codes: tuple[tuple[str, str], ...]
    texts: tuple[str, ...]
    strength: Quantity | None


class MedicationInput(NamedTuple):
    """What a MedicationRequest/Dispense/Statement says about its medication: everything
    recognition reads, so it can key the recognition cache."""

    codes: tuple[tuple[str, str], ...]  # (system URI, code) of the product code
    texts: tuple[str, ...]  # code.text, coding displays, reference display
    form_codes: tuple[tuple[str, str], ...]
    form_texts: tuple[str, ...]
    ingredient_codes: tuple[tuple[str, str], ...]
    ingredient_strengths: tuple[Ingredient, ...]
    resolved: bool


def medication_input(
    concept: object, medication: JsonDict | None, *, resolved: bool
) -> MedicationInput:
    """Collect codes and texts from a CodeableConcept and/or a Medication resource."""
    codes: list[tuple[str, str]] = []
    texts: list[str] = []
    for system, code, _ in codings(concept):
        codes.append((system, code))
    texts.extend(concept_text(concept))
    form_codes: list[tuple[str, str]] = []
    form_texts: list[str] = []
    ingredient_codes: list[tuple[str, str]] = []
    strengths: list[Ingredient] = []
    if medication is not None:
        product_code = medication.get("code")
        codes.extend((s, c) for s, c, _ in codings(product_code))
        texts.extend(concept_text(product_code))
        form = medication.get("form")
        form_codes.extend((s, c) for s, c, _ in codings(form))
        form_texts.extend(concept_text(form))
        for ingredient in dicts(medication.get("ingredient")):
            item = ingredient.get("itemCodeableConcept")
            if item is None:  # R5 shape: ingredient.item.concept
                item = as_dict(ingredient.get("item")).get("concept")
            item_codes = tuple((s, c) for s, c, _ in codings(item))
            ingredient_codes.extend(item_codes)
            item_texts = list(concept_text(item))
            item_reference = as_str(as_dict(ingredient.get("itemReference")).get("display"))
            if item_reference:
                item_texts.append(item_reference)
            texts.extend(item_texts)
            strengths.append(
                Ingredient(
                    item_codes, tuple(item_texts), _ratio_quantity(ingredient.get("strength"))
                )
            )
    return MedicationInput(
        codes=tuple(codes),
        texts=tuple(texts),
        form_codes=tuple(form_codes),
        form_texts=tuple(form_texts),
        ingredient_codes=tuple(ingredient_codes),
        ingredient_strengths=tuple(strengths),
        resolved=resolved,
    )


def _ratio_quantity(ratio: object) -> Quantity | None:
    """Raw numerator/denominator of an ingredient strength, unit kept for later canonising."""
    node = as_dict(ratio)
    numerator = as_dict(node.get("numerator"))
    value = as_number(numerator.get("value"))
    if value is None:
        return None
    unit = as_str(numerator.get("code")) or as_str(numerator.get("unit")) or ""
    denominator = as_dict(node.get("denominator"))
    denominator_value = as_number(denominator.get("value")) or 1.0
    denominator_unit = as_str(denominator.get("code")) or as_str(denominator.get("unit")) or "1"
    if denominator_value <= 0:
        return None
    return Quantity(value / denominator_value, f"{unit}/{denominator_unit}")


@functools.lru_cache(maxsize=4096)
def recognise(catalogue: Catalogue, source: MedicationInput) -> MedicationFacts:
    """Identify the medication: what it is, how strong, how released. A pure function of
    its arguments, cached: a practice prescribes the same few hundred products all day."""
    return _recognise(catalogue, source)


@dataclass(slots=True)
class _Identity:
    recognised_by: RecognisedBy
    substances: list[str]
    atc_entries: list[AtcEntry]
    product: Product | None


def _identify(catalogue: Catalogue, source: MedicationInput) -> _Identity | None:
    """First recognition path that names a catalogue medication (docs/definitions.md §1 order)."""
    keyed = [
        (catalogue.system_key(system), code)
        for system, code in (*source.codes, *source.ingredient_codes)
    ]
    atc_entries = [
        entry
        for system, code in keyed
        if system == "atc" and (entry := catalogue.atc(code)) is not None
    ]
    if atc_entries:
        substances = [s for e in atc_entries for s in e.substances]
        product = _first_product(catalogue, keyed, (*_GSTANDAARD, "rxnorm", "snomed"))
        return _Identity(RecognisedBy.ATC, substances, atc_entries, product)
    for path, systems in (
        (RecognisedBy.GSTANDAARD, _GSTANDAARD),
        (RecognisedBy.RXNORM, ("rxnorm",)),
        (RecognisedBy.SNOMED, ("snomed",)),
    ):
        product = _first_product(catalogue, keyed, systems)
        if product is not None:
            entries = [e for e in (catalogue.atc(product.atc) if product.atc else None,) if e]
            return _Identity(path, list(product.substances), entries, product)
        substances = [
            found.key
            for system, code in keyed
            if system is not None
            and system in systems
            and (found := catalogue.substance_by_code(system, code))
        ]
        if substances:
            return _Identity(path, substances, [], None)
    return None


def _first_product(
    catalogue: Catalogue, keyed: Sequence[tuple[str | None, str]], systems: Iterable[str]
) -> Product | None:
    # Systems in the order given (G-Standaard before RxNorm before SNOMED, as definitions.md §1).
    for wanted in systems:
        for system, code in keyed:
            if system == wanted and (product := catalogue.product(system, code)) is not None:
                return product
    return None


def _recognise(catalogue: Catalogue, source: MedicationInput) -> MedicationFacts:
    all_codes = (*source.codes, *source.ingredient_codes)
    texts = [t for t in (*source.texts, *source.form_texts) if t]
    joined_text = " | ".join(texts)
    identity = _identify(catalogue, source)
    coded = identity is not None
    if identity is None:
        has_atc = any(catalogue.system_key(s) == "atc" for s, _ in all_codes)
        text_substances = [] if has_atc else list(catalogue.substances_in_text(joined_text))
        # A coded ATC that is not in the catalogue says "not relevant": no text guessing.
        identity = _Identity(
            RecognisedBy.TEXT if text_substances else RecognisedBy.NONE, text_substances, [], None
        )
    elif identity.recognised_by is RecognisedBy.ATC and not identity.substances:
        # ATC group code (N02A, N05BA...): name the substance from the text if it says.
        identity.substances = list(catalogue.substances_in_text(joined_text))

    substances = [
        s for key in dict.fromkeys(identity.substances) if (s := catalogue.substance(key))
    ]
    kinds = {s.kind for s in substances} | {e.kind for e in identity.atc_entries}
    kind = next((k for k in ("opioid", "sedative", "naloxone") if k in kinds), None)
    relevant = [s for s in substances if s.kind == kind]
    is_opioid = kind == "opioid"
    product = identity.product
    display = (product.display if product else None) or (source.texts[0] if source.texts else None)

    strength: OpioidStrength | None = None
    if is_opioid:
        weak = bool(relevant) and all(s.strength == "weak" for s in relevant)
        strength = OpioidStrength.WEAK if weak else OpioidStrength.STRONG

    release, basis, is_patch, route_hint = _release_type(
        catalogue, source, product, relevant, texts
    )
    sedative_class = None
    if kind == "sedative":
        sedative_class = next(
            (s.sedative_class for s in relevant if s.sedative_class), None
        ) or next((e.sedative_class for e in identity.atc_entries if e.sedative_class), "sedative")
    return MedicationFacts(
        recognised_by=identity.recognised_by if kind else RecognisedBy.NONE,
        coded=coded and kind is not None,
        codes=tuple(dict.fromkeys(all_codes)),
        product_display=display,
        substances=tuple(
            SubstanceRef(
                s.key,
                s.name_nl,
                s.name_en,
                _atc_of(identity),
                s.long_acting_form_nl,
                s.long_acting_form_en,
            )
            for s in relevant
        ),
        is_opioid=is_opioid,
        is_oat_product=is_opioid and any(e.is_oat_product for e in identity.atc_entries),
        is_antitussive_codeine=is_opioid and any(e.is_antitussive for e in identity.atc_entries),
        strength=strength,
        release_type=release,
        release_type_basis=basis,
        is_patch=is_patch,
        dose_form=(product.dose_form if product else None) or next(iter(source.form_texts), None),
        strength_per_unit=_strength(catalogue, source, product, relevant, texts),
        route_hint=route_hint,
        sedative_class=sedative_class,
        is_naloxone=kind == "naloxone",
        once_daily=is_opioid
        and release is ReleaseType.LONG_ACTING
        and catalogue.once_daily(product, texts),
    )


def _atc_of(identity: _Identity) -> str | None:
    exact = [e.atc for e in identity.atc_entries if not e.is_prefix]
    return exact[0] if exact else None


def _release_type(
    catalogue: Catalogue,
    source: MedicationInput,
    product: Product | None,
    substances: Sequence[Any],
    texts: Sequence[str],
) -> tuple[ReleaseType, str | None, bool, str | None]:
    """(release type, what decided it, is patch, route hint) per definitions.md §1 Release type."""
    if product is not None and product.release_type is not ReleaseType.UNKNOWN:
        release = product.release_type
        basis = f"{product.system} {product.code}"
        if any(s.key == "methadone" for s in substances):
            return ReleaseType.LONG_ACTING, "methadone", product.is_patch, product.route
        return release, basis, product.is_patch, product.route
    form_route: str | None = None
    for system, code in source.form_codes:
        key = catalogue.system_key(system)
        form = catalogue.dose_form(key, code) if key else None
        if form is not None and form.release_type is not ReleaseType.UNKNOWN:
            if any(s.key == "methadone" for s in substances):
                return ReleaseType.LONG_ACTING, "methadone", form.is_patch, form.route
            return form.release_type, f"{key} form {code}", form.is_patch, form.route
        if form is not None:
            form_route = form.route
    pattern = None
    matched_text = ""
    for text in texts:
        found = catalogue.release_from_text(text)
        if found is not None and (pattern is None or found.priority < pattern.priority):
            pattern, matched_text = found, text
    route = (pattern.route if pattern else None) or form_route
    if any(s.key == "methadone" for s in substances):
        return ReleaseType.LONG_ACTING, "methadone", bool(pattern and pattern.is_patch), route
    if pattern is None:
        return ReleaseType.UNKNOWN, None, False, route
    match = pattern.regex.search(matched_text)
    label = match.group(0) if match else pattern.label
    return pattern.release_type, f"text: {label}", pattern.is_patch, route


def _strength(
    catalogue: Catalogue,
    source: MedicationInput,
    product: Product | None,
    substances: Sequence[Any],
    texts: Sequence[str],
) -> Quantity | None:
    """Opioid amount per unit: catalogue product, Medication.ingredient, or product text.
    Of a combination only the opioid's own strength counts (docs/definitions.md §1)."""
    if product is not None and product.strength is not None:
        return product.strength
    keys = {s.key for s in substances}
    if len(keys) != 1:
        return None  # two opioids in one product: no single strength per unit
    from_ingredient = _ingredient_strength(catalogue, source.ingredient_strengths, keys)
    if from_ingredient is not None:
        return from_ingredient
    for text in texts:
        found = opioid_strength_in_text(catalogue, text, keys)
        if found is not None:
            return found
    return None


def _ingredient_strength(
    catalogue: Catalogue, ingredients: Sequence[Ingredient], keys: set[str]
) -> Quantity | None:
    """The strength of the ingredient that names the opioid (by code or text); a strength
    that names nothing we know only when the product has no other ingredient."""
    unnamed: list[Quantity] = []
    for ingredient in ingredients:
        if ingredient.strength is None:
            continue
        named = {
            key
            for system, code in ingredient.codes
            if (key := _ingredient_key(catalogue, system, code))
        }
        for text in ingredient.texts:
            named.update(catalogue.substances_in_text(text))
        if named & keys:
            return canonical_strength(catalogue, ingredient.strength)
        if not named:
            unnamed.append(ingredient.strength)
    if len(unnamed) == 1 and len(ingredients) == 1:
        return canonical_strength(catalogue, unnamed[0])
    return None


def _ingredient_key(catalogue: Catalogue, system: str, code: str) -> str | None:
    """Substance key of an ingredient code (RxNorm/SNOMED substance or an exact ATC)."""
    system_key = catalogue.system_key(system)
    if system_key is None:
        return None
    found = catalogue.substance_by_code(system_key, code)
    if found is not None:
        return found.key
    if system_key == "atc":
        entry = catalogue.atc(code)
        if entry is not None and entry.substances:
            return entry.substances[0]
    return None


def canonical_strength(catalogue: Catalogue, raw: Quantity) -> Quantity | None:
    """``value numerator/denominator`` → mg (per unit), ug/h (patch) or mg/mL."""
    direct = catalogue.units.unit(raw.unit)  # e.g. "mg/mL" given as one unit
    if direct is not None and direct.dimension in ("rate", "concentration"):
        return Quantity(raw.value * direct.factor, direct.canonical)
    # The numerator may itself be a rate ("ug/h" per 1 patch): split at the last slash.
    numerator_unit, _, denominator_unit = raw.unit.rpartition("/")
    if not numerator_unit:
        numerator_unit, denominator_unit = denominator_unit, ""
    numerator = catalogue.units.unit(numerator_unit)
    if numerator is None:
        return None
    denominator = catalogue.units.unit(denominator_unit) if denominator_unit else None
    days = catalogue.units.days_per_unit(denominator_unit) if denominator_unit else None
    if numerator.dimension == "rate":
        return Quantity(raw.value * numerator.factor, numerator.canonical)
    if numerator.dimension != "mass":
        return None
    mg = raw.value * numerator.factor
    if denominator is None and days is not None:
        return Quantity(mg * 1000.0 / (days * 24.0), "ug/h")  # mass per hour: a patch rate
    if denominator is None or denominator.dimension == "count":
        return Quantity(mg, "mg")
    if denominator.dimension == "volume":
        return Quantity(mg / denominator.factor, "mg/mL")
    return None


# --------------------------------------------------------------------------- dosage
# Internal; not frozen: built many times per call, and a frozen dataclass sets each field
# through object.__setattr__.
@dataclass(slots=True)
class DosageLine:
    """One dosageInstruction, read."""

    sequence: int
    doses_per_day: float | None
    dose: Quantity | None  # canonical; count doses in unit "1"
    rate: Quantity | None  # continuous administration: "ug/h" (mass) or "mL/h" (volume)
    dose_unreadable: bool  # a dose was given in a unit we cannot convert
    as_needed: bool
    max_units_per_day: float | None  # from maxDosePerPeriod, in the dose's dimension
    bounds_days: float | None
    bounds_start: date | None
    route: str | None


def read_dosage(catalogue: Catalogue, instruction: JsonDict) -> DosageLine:
    timing = as_dict(instruction.get("timing"))
    repeat = as_dict(timing.get("repeat"))
    doses = _doses_per_day(catalogue, timing, repeat)
    dose = None
    rate = None
    given = False
    for dose_and_rate in dicts(instruction.get("doseAndRate")):
        given = given or "doseQuantity" in dose_and_rate or "doseRange" in dose_and_rate
        dose = dose or _dose_quantity(catalogue, dose_and_rate)
        rate = rate or _rate_quantity(catalogue, dose_and_rate)
    as_needed = instruction.get("asNeededBoolean") is True or bool(
        as_dict(instruction.get("asNeededCodeableConcept"))
    )
    bounds_days, bounds_start = _bounds(catalogue, repeat)
    return DosageLine(
        sequence=as_int(instruction.get("sequence")) or 0,
        doses_per_day=doses,
        dose=dose,
        rate=rate,
        dose_unreadable=given and dose is None,
        as_needed=as_needed,
        max_units_per_day=_max_per_day(catalogue, instruction),
        bounds_days=bounds_days,
        bounds_start=bounds_start,
        route=route_of(catalogue, instruction.get("route")),
    )


def _doses_per_day(catalogue: Catalogue, timing: JsonDict, repeat: JsonDict) -> float | None:
    frequency = as_number(repeat.get("frequencyMax"))
    if frequency is None:
        frequency = as_number(repeat.get("frequency"))
    period = as_number(repeat.get("period"))
    unit = as_str(repeat.get("periodUnit"))
    period_days = None
    if period is not None and period > 0:
        unit_days = catalogue.units.days_per_unit(unit) if unit else 1.0
        period_days = period * unit_days if unit_days is not None else None
    moments = len(as_list(repeat.get("timeOfDay"))) or len(as_list(repeat.get("when")))
    doses: float | None = None
    if frequency is not None and frequency > 0:
        doses = frequency
    if moments:
        doses = max(doses or 0.0, float(moments))
    if doses is None and period_days is not None:
        doses = 1.0  # "every 72 hours" without a frequency
    if doses is not None:
        per_day = doses / period_days if period_days else doses
        weekdays = len({d for d in as_list(repeat.get("dayOfWeek")) if isinstance(d, str)})
        if 0 < weekdays < 7 and (period_days is None or period_days <= 1):
            per_day *= weekdays / 7.0
        return per_day if math.isfinite(per_day) else None
    for _system, code, _display in codings(timing.get("code")):
        coded_per_day = catalogue.timing_code_doses(code)
        if coded_per_day is not None:
            return coded_per_day
    text = as_dict(timing.get("code")).get("text")
    if isinstance(text, str):
        return catalogue.timing_code_doses(text)
    return None


def _dose_quantity(catalogue: Catalogue, dose_and_rate: JsonDict) -> Quantity | None:
    if "doseQuantity" in dose_and_rate:
        return quantity_of(catalogue, dose_and_rate.get("doseQuantity"))
    dose_range = as_dict(dose_and_rate.get("doseRange"))
    # The most aggressive reading of a range (CDC MME calculator convention).
    return quantity_of(catalogue, dose_range.get("high")) or quantity_of(
        catalogue, dose_range.get("low")
    )


def _rate_quantity(catalogue: Catalogue, dose_and_rate: JsonDict) -> Quantity | None:
    """A pump rate (rateQuantity, rateRatio, rateRange high) as mass or volume per hour."""
    if "rateQuantity" in dose_and_rate:
        rate = quantity_of(catalogue, dose_and_rate.get("rateQuantity"))
        return rate if rate is not None and rate.unit in ("ug/h", "mL/h") else None
    if "rateRange" in dose_and_rate:
        rate_range = as_dict(dose_and_rate.get("rateRange"))
        rate = quantity_of(catalogue, rate_range.get("high")) or quantity_of(
            catalogue, rate_range.get("low")
        )
        return rate if rate is not None and rate.unit in ("ug/h", "mL/h") else None
    ratio = as_dict(dose_and_rate.get("rateRatio"))
    amount = quantity_of(catalogue, ratio.get("numerator"))
    days = duration_days(catalogue, ratio.get("denominator"))
    if amount is None or not days:
        return None
    hours = days * 24.0
    if amount.unit == "mg":
        per_hour = Quantity(amount.value * 1000.0 / hours, "ug/h")
    elif amount.unit == "mL":
        per_hour = Quantity(amount.value / hours, "mL/h")
    else:
        return None
    return per_hour if math.isfinite(per_hour.value) else None


def _max_per_day(catalogue: Catalogue, instruction: JsonDict) -> float | None:
    for ratio in dicts(instruction.get("maxDosePerPeriod")):
        amount = quantity_of(catalogue, ratio.get("numerator"))
        denominator = as_dict(ratio.get("denominator"))
        span = as_number(denominator.get("value"))
        unit = as_str(denominator.get("code")) or as_str(denominator.get("unit"))
        days = catalogue.units.days_per_unit(unit) if unit else None
        if amount is None or not span or not days:
            continue
        # A period that rounds to zero (1e-320 s) or a result beyond float cannot be read:
        # only this maximum is unknown.
        period_days = span * days
        if not math.isfinite(period_days) or period_days <= 0:
            continue
        per_day = amount.value / period_days
        if math.isfinite(per_day):
            return per_day
    return None


def period_end(catalogue: Catalogue, start: date | None, end: date | None) -> date | None:
    """The end of a period, None when it has none: 9999-12-31 (`parse_date`), and an end
    longer after its start than anyone uses a medicine (9998-12-31 and the like, written for
    "no end"; `ClinicalDefinitions.no_end_after_days`)."""
    far = catalogue.clinical.no_end_after_days
    if start is not None and end is not None and (end - start).days >= far:
        return None
    return end


def _bounds(catalogue: Catalogue, repeat: JsonDict) -> tuple[float | None, date | None]:
    duration = duration_days(catalogue, repeat.get("boundsDuration"))
    period = as_dict(repeat.get("boundsPeriod"))
    start = parse_date(period.get("start"))
    if duration is None:
        end = period_end(catalogue, start, parse_date(period.get("end")))
        if start is not None and end is not None and end >= start:
            duration = float((end - start).days + 1)
    if duration is None:
        duration = duration_days(catalogue, as_dict(repeat.get("boundsRange")).get("high"))
    return duration, start


def route_of(catalogue: Catalogue, concept: object) -> str | None:
    for system, code, _ in codings(concept):
        key = catalogue.system_key(system)
        route = catalogue.route_from_code(key, code) if key else None
        if route:
            return route
    for text in concept_text(concept):
        route = catalogue.route_from_text(text)
        if route:
            return route
    return None


# Internal; not frozen: built many times per call, and a frozen dataclass sets each field
# through object.__setattr__.
@dataclass(slots=True)
class Regimen:
    """The dosage instructions of one order, summarised."""

    doses_per_day: float | None
    dose: Quantity | None
    units_per_day: float | None  # countable units (or mL) per day, current step
    as_needed: bool
    route: str | None
    ome_mg_per_day: float | None
    ome_reason: str | None
    bounds_days: float | None
    bounds_start: date | None
    volume_per_day: float | None = None  # mL per day of a pump, current step
    continuous: bool = False  # given as a rate (a pump), not as doses


def regimen(catalogue: Catalogue, instructions: object, medication: MedicationFacts) -> Regimen:
    """Read all dosageInstructions (tapering steps grouped by ``sequence``)."""
    lines = [read_dosage(catalogue, item) for item in dicts(instructions)]
    if not lines:
        reason = "no dosage instruction" if medication.is_opioid else None
        return Regimen(None, None, None, False, None, None, reason, None, None)
    steps: dict[int, list[DosageLine]] = {}
    for line in lines:
        steps.setdefault(line.sequence, []).append(line)
    ordered = [steps[key] for key in sorted(steps)]
    current = ordered[0]
    doses = None
    if all(line.doses_per_day is not None for line in current):
        doses = sum(line.doses_per_day or 0.0 for line in current)
    units = _units_per_day(medication, current)
    route = next((line.route for line in lines if line.route), None)
    as_needed = any(line.as_needed for line in lines)
    ome, reason = None, None
    if medication.is_opioid:
        # The highest step of a tapering scheme counts (most aggressive dosing).
        results = [_ome(catalogue, medication, step, route) for step in ordered]
        values = [value for value, _ in results if value is not None]
        ome = max(values) if values else None
        reason = None if values else results[0][1]
    bounds = [
        max((b for line in step if (b := line.bounds_days) is not None), default=None)
        for step in ordered
    ]
    if len(ordered) > 1 and all(b is not None for b in bounds):
        bounds_days: float | None = sum(b or 0.0 for b in bounds)
    else:
        bounds_days = next((b for b in bounds if b is not None), None)
    bounds_start = next((line.bounds_start for line in lines if line.bounds_start), None)
    dose = current[0].dose if len(current) == 1 else None
    return Regimen(
        doses,
        dose,
        units,
        as_needed,
        route,
        ome,
        reason,
        bounds_days,
        bounds_start,
        _volume_per_day(medication, current),
        any(line.rate is not None for line in current),
    )


def _volume_per_day(medication: MedicationFacts, step: Sequence[DosageLine]) -> float | None:
    """mL a pump gives per day: its rate in mL/h, or in mass per hour over the concentration
    (the rate of a range at its upper end, as the daily dose). None unless every line is one."""
    total = 0.0
    strength = medication.strength_per_unit
    for line in step:
        rate = line.rate
        if rate is not None and rate.unit == "mL/h":
            total += rate.value * 24.0
        elif rate is not None and strength is not None and strength.unit == "mg/mL":
            if medication.is_patch or strength.value <= 0:
                return None
            total += rate.value * 24.0 / 1000.0 / strength.value  # ug/h → mg/day → mL/day
        else:
            return None
    return total


def _units_per_day(medication: MedicationFacts, step: Sequence[DosageLine]) -> float | None:
    """Units (tablets, patches, mL) used per day in one step; None when not derivable."""
    total = 0.0
    for line in step:
        per_day = line.doses_per_day
        dose = line.dose
        if per_day is None or dose is None:
            if line.max_units_per_day is not None and (dose is None or dose.unit == "1"):
                total += line.max_units_per_day
                continue
            return None
        if dose.unit in ("1", "mL"):
            total += dose.value * per_day
        elif dose.unit == "mg" and medication.strength_per_unit is not None:
            strength = medication.strength_per_unit
            if strength.unit not in ("mg", "mg/mL") or strength.value <= 0:
                return None
            total += dose.value / strength.value * per_day
        elif dose.unit == "ug/h" and medication.is_patch:
            total += per_day  # one patch per application
        else:
            return None
    return total


def _ome(
    catalogue: Catalogue, medication: MedicationFacts, step: Sequence[DosageLine], route: str | None
) -> tuple[float | None, str | None]:
    """Oral morphine equivalents (mg/day) of one dosing step, or why not."""
    opioids = medication.substances
    if not opioids:
        return None, "opioid substance unknown"
    if len(opioids) > 1:
        return None, "more than one opioid substance"
    substance = opioids[0].key
    effective_route = route or medication.route_hint
    if medication.is_patch or effective_route == "transdermal":
        group = "transdermal"
    elif effective_route in (None, "oral"):
        group = "oral"
    else:
        group = effective_route
    factor = catalogue.ome_factor(substance, group)
    if factor is None:
        return None, f"no Dutch conversion factor for {substance} ({group})"
    if factor.factor is None:
        return None, f"{substance} is not converted by default"
    total = 0.0
    for line in step:
        daily, reason = _daily_amount(medication, line, factor.per_unit)
        if daily is None:
            return None, reason
        total += daily
    ome = total * factor.factor
    if not math.isfinite(ome):
        return None, "dose out of range"
    return round(ome, 4), None


def _daily_amount(
    medication: MedicationFacts, line: DosageLine, per_unit: str
) -> tuple[float | None, str | None]:
    strength = medication.strength_per_unit
    dose = line.dose
    if per_unit == "ug/h":
        # Patch: rate × patches worn at once; the change interval does not matter.
        if dose is not None and dose.unit == "ug/h":
            return dose.value, None
        if strength is None or strength.unit != "ug/h":
            return None, "patch strength unknown"
        patches = dose.value if dose is not None and dose.unit == "1" else 1.0
        return strength.value * patches, None
    rate = line.rate
    if rate is not None and rate.unit == "ug/h":
        return rate.value * 24.0 / 1000.0, None  # mg/day
    if rate is not None:  # mL/h
        if strength is None or strength.unit != "mg/mL":
            return None, "concentration unknown"
        return rate.value * 24.0 * strength.value, None
    per_day = line.doses_per_day
    if per_day is None:
        if line.max_units_per_day is not None and strength is not None and strength.unit == "mg":
            return line.max_units_per_day * strength.value, None
        return None, "doses per day unknown"
    if dose is None:
        return None, "dose unit not convertible" if line.dose_unreadable else "dose unknown"
    if dose.unit == "mg":
        return dose.value * per_day, None  # a dose in mg wins over the product strength
    if dose.unit == "1":
        if strength is None or strength.unit != "mg":
            return None, "strength per unit unknown"
        return dose.value * strength.value * per_day, None
    if dose.unit == "mL":
        if strength is None or strength.unit != "mg/mL":
            return None, "concentration unknown"
        return dose.value * strength.value * per_day, None
    return None, f"dose unit {dose.unit} not convertible"
