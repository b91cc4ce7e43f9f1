"""Which elements of a medication resource, and of the patient's other resources that decide a
rule (a Condition, an Encounter, the prescriber's PractitionerRole, …), the facts builder
reads, and whether each one that is there can be read (docs/definitions.md, `incomplete-check`).

The readers are lenient (a single object where R4 has an array, "10" for 10, a code given as
a number) and never raise: an element they cannot read is skipped and its fact is unknown.
Skipped silently, an unknown fact reads as "nothing wrong"; `unreadable_elements` names each
element that is there but that its reader cannot read, by its path (never its value), for the
incomplete-check card. What an absent element means is the readers' business: no indication,
no repeats, the next duration source. Each check below is the reader's own test of the value,
so what is read is never reported, and what is reported was not read.

Reported elsewhere, not here: the period of use's dates (`durations.period_of_use`), the
medication itself (`reading.medication_problem`) and a draft nested too deep (`builder`).

The same pass names the modifierExtensions the readers do not implement: FHIR forbids reading a
resource as if it were understood when it carries one (docs/definitions.md, `incomplete-check`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from rules.catalogue import Catalogue
from rules.facts.fhir_access import as_list, as_number, as_str, is_object, parse_date
from rules.facts.quantities import duration_days, is_readable_quantity

__all__ = [
    "CONDITION",
    "CURRENT_ENCOUNTER",
    "ENCOUNTER",
    "MEDICATION_DISPENSE",
    "MEDICATION_REQUEST",
    "MEDICATION_REQUEST_HISTORY",
    "MEDICATION_STATEMENT",
    "MODIFIERS",
    "OBSERVATION",
    "ORGANIZATION",
    "PATIENT",
    "PRACTITIONER",
    "PRACTITIONER_ROLE",
    "Shape",
    "unreadable_elements",
]

Check = int
"""How the reader of a leaf element tests its value: one of the checks below (a number, not a
function: compiled, `_readable` calls them natively)."""
TEXT: Final = 1
TEXTS: Final = 2
DATE: Final = 3
END: Final = 4
BOOLEAN: Final = 5
COUNT: Final = 6
POSITIVE_COUNT: Final = 7
INTEGER: Final = 8
NON_NEGATIVE: Final = 9
AMOUNT: Final = 10
DURATION: Final = 11
TIME_UNIT: Final = 12


@dataclass(frozen=True)
class Shape:
    """An element that holds elements: a JSON object, or (`many`) an array of them, which the
    readers also take as a single object."""

    elements: dict[str, Shape | Check]
    many: bool = False


def _many(shape: Shape) -> Shape:
    return Shape(shape.elements, many=True)


MODIFIERS = "modifierExtension"
"""The last part of the path of a modifierExtension the readers do not know."""


def unreadable_elements(
    catalogue: Catalogue,
    resource: Mapping[str, Any],
    shape: Shape,
    required: tuple[str, ...] = (),
    understood: frozenset[str] = frozenset(),
) -> list[str]:
    """The paths (`dosageInstruction.timing.repeat.frequency`) of the elements of `resource`
    that are there but cannot be read, of the `required` ones that are not there, and (ending
    in `MODIFIERS`) of the resource and read elements that hold a modifierExtension whose URL
    is not in `understood`, or that is no extension at all. Never a URL or value."""
    found = [name for name in required if resource.get(name) is None]
    if type(resource) is dict and _readable(catalogue, resource, shape):
        return found  # the common case: one quick pass
    _collect(catalogue, resource, shape, "", found, understood)
    return list(dict.fromkeys(found))


def _readable(catalogue: Catalogue, node: dict[str, Any], shape: Shape) -> bool:
    """True when every element read is readable and none holds a modifierExtension (rare:
    those, known or not, are sorted out on the slow path, as is JSON that is not plain dicts).
    Typed `dict`, not `Mapping`: compiled, a dict's items are walked without making tuples."""
    elements = shape.elements
    for name, value in node.items():  # a resource holds fewer elements than are read
        spec = elements.get(name)
        if spec is None or value is None:  # not read, or null (absent to the readers)
            if name == MODIFIERS and value is not None:
                return False
            continue
        if isinstance(spec, int):
            if not _leaf_readable(catalogue, spec, value):
                return False
        elif type(value) is dict:
            if not _readable(catalogue, value, spec):
                return False
        elif spec.many and type(value) is list:
            for item in value:
                if type(item) is not dict or not _readable(catalogue, item, spec):
                    return False
        else:
            return False
    return True


def _collect(
    catalogue: Catalogue,
    node: Mapping[str, Any],
    shape: Shape,
    prefix: str,
    found: list[str],
    understood: frozenset[str],
) -> None:
    """The paths `_readable` stopped at, all of them."""
    for name, value in node.items():
        spec = shape.elements.get(name)
        if value is None:
            continue
        path = prefix + name
        if spec is None:
            if name == MODIFIERS and not _all_understood(value, understood):
                found.append(path)
            continue
        if isinstance(spec, int):
            if not _leaf_readable(catalogue, spec, value):
                found.append(path)
            continue
        for item in as_list(value) if spec.many else (value,):
            if not is_object(item):
                found.append(path)
                break
            _collect(catalogue, item, spec, path + ".", found, understood)


def _all_understood(modifiers: object, understood: frozenset[str]) -> bool:
    for item in as_list(modifiers):
        url = as_str(item.get("url")) if is_object(item) else None
        if url is None or url not in understood:
            return False
    return True


def _leaf_readable(catalogue: Catalogue, check: Check, value: object) -> bool:
    """The reader's own test of a value (`fhir_access`, `medication`)."""
    if check == TEXT:
        return as_str(value) is not None
    if check == DATE:
        return parse_date(value) is not None
    if check == END:  # 9999-12-31 (and every day of 9999) is "no end"
        return parse_date(value) is not None or (isinstance(value, str) and value[:4] == "9999")
    if check == AMOUNT:  # a value of 0 or more in a unit the catalogue converts, or in none
        return is_readable_quantity(catalogue, value)
    if check == DURATION:  # a value of 0 or more in a unit of time
        return duration_days(catalogue, value) is not None
    if check == TIME_UNIT:
        unit = as_str(value)
        return unit is not None and catalogue.units.days_per_unit(unit) is not None
    if check == TEXTS:
        return all(isinstance(item, str) for item in as_list(value))
    if check == BOOLEAN:
        return isinstance(value, bool)
    number = as_number(value)
    if number is None:
        return False
    if check == NON_NEGATIVE:
        return number >= 0
    least = 0.0 if check == COUNT else 1.0 if check == POSITIVE_COUNT else -1e9
    return least <= number <= 1e9 and number == int(number)  # an unsignedInt, a positiveInt


# --- what the readers read (rules/facts/orders.py, medication.py, durations.py, history.py) ---

CONCEPT = Shape({"coding": _many(Shape({"system": TEXT, "code": TEXT}))})
REFERENCE = Shape({"reference": TEXT})
PERIOD = Shape({"start": DATE, "end": END})
RANGE = Shape({"low": AMOUNT, "high": AMOUNT})
RATIO = Shape({"numerator": AMOUNT, "denominator": DURATION})
EXTENSIONS = _many(Shape({"url": TEXT}))
DOSAGE = _many(
    Shape(
        {
            "sequence": INTEGER,
            "timing": Shape(
                {
                    "repeat": Shape(
                        {
                            "frequency": POSITIVE_COUNT,
                            "frequencyMax": POSITIVE_COUNT,
                            "period": NON_NEGATIVE,
                            "periodUnit": TIME_UNIT,
                            "dayOfWeek": TEXTS,
                            "boundsDuration": DURATION,
                            "boundsPeriod": PERIOD,
                            "boundsRange": Shape({"high": DURATION}),
                        }
                    ),
                    "code": CONCEPT,
                }
            ),
            "asNeededBoolean": BOOLEAN,
            "asNeededCodeableConcept": CONCEPT,
            "route": CONCEPT,
            "doseAndRate": _many(
                Shape(
                    {
                        "doseQuantity": AMOUNT,
                        "doseRange": RANGE,
                        "rateQuantity": AMOUNT,
                        "rateRange": RANGE,
                        "rateRatio": RATIO,
                    }
                )
            ),
            "maxDosePerPeriod": _many(RATIO),
        }
    )
)
_MEDICATION: dict[str, Shape | Check] = {
    "extension": EXTENSIONS,
    "status": TEXT,
    "category": _many(CONCEPT),
    "medicationCodeableConcept": CONCEPT,
    "medicationReference": REFERENCE,
}
_REQUEST: dict[str, Shape | Check] = {
    **_MEDICATION,
    "intent": TEXT,
    "authoredOn": DATE,
    "requester": REFERENCE,
    "basedOn": _many(REFERENCE),
    "dosageInstruction": DOSAGE,
    "dispenseRequest": Shape(
        {
            "numberOfRepeatsAllowed": COUNT,
            "quantity": AMOUNT,
            "expectedSupplyDuration": DURATION,
            "performer": REFERENCE,
        }
    ),
}
MEDICATION_REQUEST_HISTORY = Shape(_REQUEST)
"""A request of the history: read without what only a drafted order needs (`orders`)."""
MEDICATION_REQUEST = Shape(
    {
        **_REQUEST,
        "reasonCode": _many(CONCEPT),
        "reasonReference": _many(REFERENCE),
        "courseOfTherapyType": CONCEPT,
        "priorPrescription": REFERENCE,
    }
)
"""A drafted order."""
MEDICATION_DISPENSE = Shape(
    {
        **_MEDICATION,
        "whenHandedOver": DATE,
        "whenPrepared": DATE,
        "daysSupply": DURATION,
        "quantity": AMOUNT,
        "dosageInstruction": DOSAGE,
        "authorizingPrescription": _many(REFERENCE),
        "performer": _many(Shape({"actor": REFERENCE})),
        "location": REFERENCE,
    }
)
MEDICATION_STATEMENT = Shape(
    {
        **_MEDICATION,
        "effectivePeriod": PERIOD,
        "effectiveDateTime": DATE,
        "dateAsserted": DATE,
        "dosage": DOSAGE,
    }
)


# --- the patient's other resources (rules/facts/patient.py, reading.py) ----------------------

TEXTED_CONCEPTS = _many(
    Shape({"coding": _many(Shape({"system": TEXT, "code": TEXT, "display": TEXT})), "text": TEXT})
)
"""Concepts whose texts are read as well as their codes (condition sets, roles, remote
consults); `codings` takes a list of them, or a bare Coding."""
CONCEPTS = _many(CONCEPT)
IDENTIFIERS = _many(Shape({"system": TEXT, "value": TEXT}))
CONDITION = Shape(
    {
        "clinicalStatus": CONCEPTS,
        "verificationStatus": CONCEPTS,
        "code": TEXTED_CONCEPTS,
        "abatementDateTime": END,
    }
)
OBSERVATION = Shape(
    {
        "status": TEXT,
        "code": CONCEPTS,
        "effectiveDateTime": DATE,
        "issued": DATE,
        "valueCodeableConcept": CONCEPTS,
    }
)
"""A pregnancy status."""
_ENCOUNTER: dict[str, Shape | Check] = {
    "status": TEXT,
    "class": _many(Shape({"system": TEXT, "code": TEXT, "coding": CONCEPT.elements["coding"]})),
    "type": TEXTED_CONCEPTS,
    "serviceType": TEXTED_CONCEPTS,
    "period": PERIOD,
}
ENCOUNTER = Shape(_ENCOUNTER)
"""An encounter, read as a consult that may be physical."""
CURRENT_ENCOUNTER = Shape(
    {
        **_ENCOUNTER,
        "reasonCode": TEXTED_CONCEPTS,
        "diagnosis": _many(Shape({"condition": REFERENCE})),
        "reasonReference": _many(REFERENCE),
    }
)
"""The encounter of the call (`context.encounterId`): its diagnoses are the order's indication."""
PATIENT = Shape(
    {"address": _many(Shape({"postalCode": TEXT, "use": TEXT, "period": Shape({"end": END})}))}
)
"""The postcode (referral routes). The birth date decides no rule."""
PRACTITIONER_ROLE = Shape(
    {
        "code": TEXTED_CONCEPTS,
        "specialty": TEXTED_CONCEPTS,
        "practitioner": REFERENCE,
        "organization": REFERENCE,
    }
)
"""GP or specialist, and the practice (whose AGB code chooses the practice overlay)."""
PRACTITIONER = Shape(
    {"identifier": IDENTIFIERS, "qualification": _many(Shape({"code": TEXTED_CONCEPTS}))}
)
ORGANIZATION = Shape({"identifier": IDENTIFIERS, "type": TEXTED_CONCEPTS})
