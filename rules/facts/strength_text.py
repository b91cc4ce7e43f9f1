"""The opioid's strength per unit, read from a product name.

Three naming patterns (docs/definitions.md §1, combination products):
- G-Standaard: names and strengths each joined by "/", in the same order, one unit at the end:
  "TRAMADOL/PARACETAMOL TABLET 37,5/325MG", "PARACETAMOL/CODEINE 500/10MG";
- G-Standaard solutions, an amount per volume: "MORFINE HCL DRANK 1ML= 5MG" (5 mg/ml),
  "... 5 ML = 10 MG" (2 mg/ml), strengths by position after "/"-joined names as above;
- RxNorm (and single-substance Dutch names): each name followed by its own strength:
  "acetaminophen 325 MG / tramadol hydrochloride 37.5 MG Oral Tablet", "OXYCODON TABLET 10MG".
A strength is only taken when the name says which ingredient it belongs to, or when it is the
only strength in the name: a co-ingredient's strength (paracetamol 500 mg) is never the opioid's.

Only recognition calls this, and recognition is cached per product: plain Python suffices.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from rules.catalogue import Catalogue, Quantity

_NUMBER = r"\d+(?:[.,]\d+)?"
_UNIT = r"(mg|microg|ug|µg|mcg|g)"
# "per hour" makes a patch rate, "per mL" a concentration; per dose/actuation is per unit.
_PER = r"(?:\s*/\s*(uur|hr|h|ml|dosis|actuat))?(?![a-z])"
_NAMED = re.compile(rf"([^\W\d][^\d/]*?)\s*({_NUMBER})\s*{_UNIT}{_PER}", re.IGNORECASE)
_SLASHED = re.compile(
    rf"(?<![\d/.,])({_NUMBER}(?:\s*/\s*{_NUMBER})+)\s*{_UNIT}{_PER}", re.IGNORECASE
)
# "1ML= 5MG": the amount in a volume, so a concentration (read before the patterns above,
# which would take "ML= 5MG" for 5 mg per unit).
_PER_VOLUME = re.compile(
    rf"(?<![\d.,])({_NUMBER})\s*ML\s*=\s*({_NUMBER}(?:\s*/\s*{_NUMBER})*)\s*{_UNIT}(?![a-z/])",
    re.IGNORECASE,
)
_FIRST_DIGIT = re.compile(r"\d")


def opioid_strength_in_text(
    catalogue: Catalogue, text: str, opioids: Collection[str]
) -> Quantity | None:
    """Strength per unit of the one opioid in ``opioids`` that ``text`` names; None when the
    name does not tell (ambiguous or no strength)."""
    # The names are what comes before the first number: "TRAMADOL/PARACETAMOL TABLET ".
    names = _FIRST_DIGIT.split(text, maxsplit=1)[0].split("/")
    per_volume = _PER_VOLUME.search(text)
    if per_volume is not None:
        return _per_volume(catalogue, names, per_volume, opioids)
    slashed = _SLASHED.search(text)
    if slashed is not None or len(names) > 1:
        # Names joined by "/" give their strengths by position, or not at all.
        return _positional(catalogue, names, slashed, opioids) if slashed else None
    pairs = list(_NAMED.finditer(text))
    mine = [m for m in pairs if set(catalogue.substances_in_text(m.group(1))) & set(opioids)]
    if not mine and len(pairs) == 1 and len(opioids) == 1:
        mine = pairs  # "Kadian 20 MG ...": the only strength of a one-opioid product
    strengths = {_canonical(catalogue, m.group(2), m.group(3), m.group(4)) for m in mine}
    return strengths.pop() if len(strengths) == 1 else None


def _per_volume(
    catalogue: Catalogue, names: list[str], match: re.Match[str], opioids: Collection[str]
) -> Quantity | None:
    """The opioid's amount in the volume, per mL; by position when several names share it."""
    volume = float(match.group(1).replace(",", "."))
    values = [v.strip() for v in match.group(2).split("/")]
    if len(values) == 1 and len(names) == 1 and len(opioids) == 1:
        found = values
    else:
        found = _mine(catalogue, names, values, opioids)
    if len(found) != 1 or volume <= 0:
        return None
    amount = float(found[0].replace(",", ".")) / volume
    return catalogue.units.to_canonical(amount, f"{match.group(3)}/ml")


def _mine(
    catalogue: Catalogue, names: list[str], values: list[str], opioids: Collection[str]
) -> list[str]:
    """The values whose name, at the same position, is one of the opioids."""
    if len(names) != len(values):
        return []
    return [
        value
        for name, value in zip(names, values, strict=True)
        if set(catalogue.substances_in_text(name)) & set(opioids)
    ]


def _positional(
    catalogue: Catalogue, names: list[str], slashed: re.Match[str], opioids: Collection[str]
) -> Quantity | None:
    values = [v.strip() for v in slashed.group(1).split("/")]
    found = _mine(catalogue, names, values, opioids)
    if len(found) != 1:
        return None
    return _canonical(catalogue, found[0], slashed.group(2), slashed.group(3))


def _canonical(catalogue: Catalogue, value: str, unit: str, per: str | None) -> Quantity | None:
    per = (per or "").lower()
    unit_text = f"{unit}/{per}" if per and per not in ("dosis", "actuat") else unit
    return catalogue.units.to_canonical(float(value.replace(",", ".")), unit_text)
