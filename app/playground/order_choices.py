"""What the playground's order form offers: the catalogue's products and indication codes.

The form writes a picked product into the draft MedicationRequest as a coding, so each choice
carries the FHIR system URI (not the catalogue's logical key) next to its code and display.
Products and codes come from `rules.catalogue`, the same data the rules read.
"""

from __future__ import annotations

from typing import Any

from rules.catalogue import Catalogue

__all__ = ["order_choices"]


def _product_choices(catalogue: Catalogue) -> list[dict[str, Any]]:
    choices = []
    for product in catalogue.products():
        uri = catalogue.system_uri(product.system)
        if uri is None:  # the loader checks every key, so only a broken data set gets here
            continue
        kinds = {
            substance.kind
            for key in product.substances
            if (substance := catalogue.substance(key)) is not None
        }
        choices.append(
            {
                "system": uri,
                "systemKey": product.system,
                "code": product.code,
                "display": product.display,
                "releaseType": product.release_type.value,
                "isOpioid": "opioid" in kinds,
            }
        )
    return choices


def _indication_choices(catalogue: Catalogue) -> list[dict[str, Any]]:
    # Not a range ("L89-L91": not one code a GP could pick), nor a code that needs a word in
    # the text as well (P19 is opioid use disorder only with "opioid" in it).
    seen: set[tuple[str, str]] = set()
    choices = []
    for entry in catalogue.condition_codes():
        uri = catalogue.system_uri(entry.system)
        if entry.match == "range" or entry.requires_text is not None or uri is None:
            continue
        if (uri, entry.code) in seen:
            continue
        seen.add((uri, entry.code))
        choices.append(
            {
                "system": uri,
                "systemKey": entry.system,
                "code": entry.code,
                "display": entry.display or entry.code,
                "set": entry.set_name,
            }
        )
    return sorted(choices, key=lambda choice: (choice["systemKey"], choice["code"]))


def order_choices(catalogue: Catalogue) -> dict[str, Any]:
    """`{"products": [...], "indications": [...]}` for the playground's order form."""
    return {
        "products": _product_choices(catalogue),
        "indications": _indication_choices(catalogue),
    }
