"""The CDC MME calculator's own test cases as oracles for our OME (docs/definitions.md §1).

Source: github.com/cqframework/opioid-mme-r4 (v3.0.0): `input/cql/OMTKLogicTests.cql`
(TestDrugs: RxNorm product, dose, doses per day, expected MME) and
`input/tests/MMECalculatorTests/*/` (a MedicationRequest and its GuidanceResponse TotalMME).
Each CDC result is converted to the Dutch factor of the same substance and route,
MME / CDC factor × Dutch factor, and our OME must agree within 1 %. Where the Dutch table has
no factor (buccal, nasal, injected fentanyl) or converts nothing by policy (methadone), our OME
is None and the order says why.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest

from fhir_fixtures.builders import RXNORM, concept, med_request, qty
from rules.catalogue import Catalogue
from tests.rules.facts.conftest import order_of

OMTK = "opioid-mme-r4 input/cql/OMTKLogicTests.cql"
CALC = "opioid-mme-r4 input/tests/MMECalculatorTests"
# Dutch factors of docs/definitions.md §1 (per mg, fentanyl patch per ug/h); CDC 2022 factors
# as opioid-mme-r4 applies them.
DUTCH = {"oxycodone": 1.5, "fentanyl-transdermal": 2.4}
CDC = {"oxycodone": 1.5, "fentanyl-transdermal": 2.4}


class Oracle(NamedTuple):
    source: str
    rxnorm: str
    display: str
    dosage: dict[str, Any]
    cdc_mme: float | None
    factor_key: str | None  # None: no Dutch factor, the OME is not computed
    reason: str | None = None


def _every(frequency: float, period: float, unit: str, dose: dict[str, Any]) -> dict[str, Any]:
    repeat = {"frequency": frequency, "period": period, "periodUnit": unit}
    return {"timing": {"repeat": repeat}, "doseAndRate": [{"doseQuantity": dose}]}


ORACLES = [
    Oracle(
        f"{OMTK} TestDrug_Fentanyl_Transdermal",
        "245134",
        "72 HR fentanyl 0.025 MG/HR Transdermal System",
        _every(1, 3, "d", qty(1, "{patch}")),
        60,
        "fentanyl-transdermal",
    ),
    Oracle(
        f"{OMTK} TestDrug_Fentanyl_0375_Transdermal",
        "1603495",
        "72 HR fentanyl 0.0375 MG/HR Transdermal System",
        _every(1, 3, "d", qty(1, "{patch}")),
        90,
        "fentanyl-transdermal",
    ),
    Oracle(
        f"{OMTK} TestDrug_Oxycodone",
        "1049683",
        "oxycodone hydrochloride 10 MG Oral Tablet",
        _every(4, 1, "d", qty(1, "{tab}")),
        60,
        "oxycodone",
    ),
    Oracle(
        f"{OMTK} TestDrug_Oxycodone_ER",
        "1049574",
        "12 HR oxycodone hydrochloride 30 MG Extended Release Oral Tablet",
        _every(2, 1, "d", qty(1, "{tab}")),
        90,
        "oxycodone",
    ),
    Oracle(
        f"{OMTK} TestDrug_Fentanyl_Injection",
        "1244687",
        "fentanyl 0.004 MG/ML / ropivacaine hydrochloride 2 MG/ML Injectable Solution",
        _every(1, 1, "d", qty(1, "{injection}")),
        None,
        None,
        "no Dutch conversion factor for fentanyl (parenteral)",
    ),
    Oracle(
        f"{OMTK} TestDrug_Methadone",
        "864706",
        "methadone hydrochloride 10 MG Oral Tablet",
        _every(3, 1, "d", qty(2, "{tab}")),
        600,
        None,
        "methadone is not converted by default",
    ),
    Oracle(
        f"{OMTK} TestDrug_Fentanyl_Film",
        "858087",
        "fentanyl 1.2 MG Buccal Film",
        _every(2, 1, "d", qty(1, "{film}")),
        432,
        None,
        "no Dutch conversion factor for fentanyl (buccal)",
    ),
    Oracle(
        f"{CALC}/patient-mme-greater-than-fifty",
        "197696",
        "72 HR Fentanyl 0.075 MG/HR Transdermal System",
        _every(1, 3.0, "d", qty(1.0, "{patch}", "patch")),
        180,
        "fentanyl-transdermal",
    ),
    Oracle(
        f"{CALC}/patient-mme-less-than-fifty",
        "1049593",
        "oxycodone hydrochloride 60 MG 12 HR Extended Release Oral Tablet",
        _every(1, 12.0, "h", qty(10, "mg", "mg")),
        30,
        "oxycodone",
    ),
    Oracle(
        f"{CALC}/patient-mme-with-timeofday",
        "1049593",
        "oxycodone hydrochloride 60 MG 12 HR Extended Release Oral Tablet",
        {
            "timing": {
                "repeat": {
                    "boundsPeriod": {"start": "2020-09-28"},
                    "timeOfDay": ["10:00:00", "22:00:00"],
                }
            },
            "asNeededBoolean": False,
            "doseAndRate": [{"doseQuantity": qty(10, "mg", "mg")}],
        },
        30,
        "oxycodone",
    ),
]


@pytest.mark.parametrize("oracle", ORACLES, ids=[o.source.rsplit(" ", 1)[-1] for o in ORACLES])
def test_our_ome_agrees_with_the_cdc_oracle_in_dutch_factors(
    catalogue: Catalogue, oracle: Oracle
) -> None:
    drug = concept((RXNORM, oracle.rxnorm, oracle.display))
    order = order_of(catalogue, med_request("o1", drug, dosages=[oracle.dosage]))
    if oracle.factor_key is None:
        assert order.ome_mg_per_day is None, oracle.source
        assert order.ome_not_computable_reason == oracle.reason, oracle.source
        return
    assert oracle.cdc_mme is not None
    expected = oracle.cdc_mme / CDC[oracle.factor_key] * DUTCH[oracle.factor_key]
    assert order.ome_mg_per_day == pytest.approx(expected, rel=0.01), oracle.source
