"""The terminology catalogue: data integrity and lookups."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from rules.catalogue import DATA_DIR, Catalogue, CatalogueError, load_catalogue
from rules.facts import Quantity, ReleaseType


def test_catalogue_is_loaded_once(catalogue: Catalogue) -> None:
    assert load_catalogue() is catalogue
    assert load_catalogue(DATA_DIR) is catalogue


@pytest.mark.parametrize("name", sorted(p.name for p in DATA_DIR.glob("*.csv")))
def test_every_csv_row_names_its_source(name: str) -> None:
    with (DATA_DIR / name).open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows, name
    assert all(row["source"].strip() for row in rows), name


def test_a_row_without_source_fails_the_load(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    path = data / "ome_factors.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.append("morphine,rectal,1,mg,,")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match="source"):
        Catalogue(data)


def test_a_product_naming_an_unknown_substance_fails_the_load(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    with (data / "products.csv").open("a", encoding="utf-8") as handle:
        handle.write("rxnorm,1,X,unobtainium,1,mg,Tablet,short-acting,oral,,test,\n")
    with pytest.raises(CatalogueError, match="unobtainium"):
        Catalogue(data)


def test_atc_exact_and_longest_prefix(catalogue: Catalogue) -> None:
    oxycodone = catalogue.atc("N02AA05")
    assert oxycodone is not None and oxycodone.substances == ("oxycodone",)
    group = catalogue.atc("N02AX99")
    assert group is not None and group.atc == "N02A" and group.kind == "opioid"
    oat = catalogue.atc("n07bc02")
    assert oat is not None and oat.is_oat_product and oat.substances == ("methadone",)
    assert catalogue.atc("R05DA04") is not None
    assert catalogue.atc("R05DA04").is_antitussive  # type: ignore[union-attr]
    assert catalogue.atc("N02BE01") is None  # paracetamol: not in the catalogue
    benzo = catalogue.atc("N05BA99")
    assert benzo is not None and benzo.sedative_class == "benzodiazepine"


def test_opioid_atc_groups_of_the_rules_are_covered(catalogue: Catalogue) -> None:
    for code in ("N02AA01", "N02AJ06", "R05DA04", "N07BC51", "N01AH01", "N01AH03"):
        entry = catalogue.atc(code)
        assert entry is not None and entry.kind == "opioid", code


def test_gstandaard_products_of_the_reference(catalogue: Catalogue) -> None:
    expected = {
        ("gstandaard_prk", "57614"): ("oxycodone", ReleaseType.LONG_ACTING, Quantity(10, "mg")),
        ("gstandaard_gpk", "111430"): ("oxycodone", ReleaseType.LONG_ACTING, Quantity(10, "mg")),
        ("gstandaard_prk", "102059"): ("oxycodone", ReleaseType.SHORT_ACTING, Quantity(10, "mg")),
        ("gstandaard_prk", "86770"): ("fentanyl", ReleaseType.LONG_ACTING, Quantity(12, "ug/h")),
        ("gstandaard_prk", "35475"): ("tramadol", ReleaseType.SHORT_ACTING, Quantity(50, "mg")),
        ("gstandaard_prk", "42773"): ("codeine", ReleaseType.SHORT_ACTING, Quantity(10, "mg")),
        ("gstandaard_zi", "14899337"): ("tramadol", ReleaseType.LONG_ACTING, Quantity(100, "mg")),
    }
    for (system, code), (substance, release, strength) in expected.items():
        product = catalogue.product(system, code)
        assert product is not None, code
        assert product.substances == (substance,)
        assert product.release_type is release
        assert product.strength == strength


def test_rxnorm_products_carry_strength_form_and_release(catalogue: Catalogue) -> None:
    patch = catalogue.product("rxnorm", "245134")
    assert patch is not None and patch.is_patch
    assert patch.strength == Quantity(25.0, "ug/h")
    er = catalogue.product("rxnorm", "1049574")
    assert er is not None and er.release_type is ReleaseType.LONG_ACTING
    ir = catalogue.product("rxnorm", "1049683")
    assert ir is not None and ir.release_type is ReleaseType.SHORT_ACTING
    methadone = catalogue.product("rxnorm", "864706")
    assert methadone is not None and methadone.release_type is ReleaseType.LONG_ACTING
    suboxone = catalogue.product("rxnorm", "1010603")
    assert suboxone is not None and suboxone.atc == "N07BC51"
    for code in ("892494", "897696", "835603", "825411", "997285", "904880"):
        assert catalogue.product("rxnorm", code) is not None, code


@pytest.mark.parametrize(
    ("text", "release", "patch"),
    [
        ("OXYCODON TABLET MGA 10MG", ReleaseType.LONG_ACTING, False),
        ("MORFINE CAPSULE MVA 30MG", ReleaseType.LONG_ACTING, False),
        ("TRAMADOL HCL SANDOZ RETARD TABLET MGA 100MG", ReleaseType.LONG_ACTING, False),
        ("FENTANYL PLEISTER 12UG/UUR", ReleaseType.LONG_ACTING, True),
        ("Oxycodone prolonged-release tablet 10 mg", ReleaseType.LONG_ACTING, False),
        ("Oxycodone ER 10 mg", ReleaseType.LONG_ACTING, False),
        (
            "12 HR oxycodone hydrochloride 30 MG Extended Release Oral Tablet",
            ReleaseType.LONG_ACTING,
            False,
        ),
        ("72 HR fentanyl 0.025 MG/HR Transdermal System", ReleaseType.LONG_ACTING, True),
        ("tablet met verlengde afgifte", ReleaseType.LONG_ACTING, False),
        ("OXYCODON TABLET 10MG", ReleaseType.SHORT_ACTING, False),
        ("OXYCODON CAPSULE IR 5MG", ReleaseType.SHORT_ACTING, False),
        ("MORFINE DRANK 2MG/ML", ReleaseType.SHORT_ACTING, False),
        ("FENTANYL NEUSSPRAY 100UG/DOSIS", ReleaseType.SHORT_ACTING, False),
        ("MORFINE ZETPIL 10MG", ReleaseType.SHORT_ACTING, False),
    ],
)
def test_release_type_from_product_text(
    catalogue: Catalogue, text: str, release: ReleaseType, patch: bool
) -> None:
    found = catalogue.release_from_text(text)
    assert found is not None
    assert (found.release_type, found.is_patch) == (release, patch)


def test_release_text_nothing_tells(catalogue: Catalogue) -> None:
    assert catalogue.release_from_text("oxycodon") is None
    # the Dutch word "er" is not the English abbreviation ER
    assert catalogue.release_from_text("neem er 1 bij pijn") is None


def test_substance_names_in_text(catalogue: Catalogue) -> None:
    assert catalogue.substances_in_text("Codeïnefosfaat 10 mg") == ("codeine",)
    assert catalogue.substances_in_text("DIHYDROCODEINE 60MG") == ("dihydrocodeine",)
    assert catalogue.substances_in_text("nicomorfine") == ("nicomorphine",)
    assert catalogue.substances_in_text("OXYCODON/NALOXON 10/5MG") == ("oxycodone", "naloxone")
    assert catalogue.substances_in_text("paracetamol 500 mg") == ()


@pytest.mark.parametrize(
    ("system", "code", "text", "expected"),
    [
        ("icpc", "L86.01", "", {"bony_musculoskeletal_pain"}),
        ("icpc", "L90", "", {"bony_musculoskeletal_pain"}),
        ("icpc", "L73", "", {"fracture"}),
        ("icd10", "M17.1", "", {"bony_musculoskeletal_pain"}),
        ("icd10", "M81.0", "", {"bony_musculoskeletal_pain"}),
        ("icd10", "M20", "", set()),
        ("snomed", "279039007", "", {"bony_musculoskeletal_pain"}),
        ("icd10", "C50.9", "", {"palliative_or_cancer"}),
        ("icd10", "C97", "", {"palliative_or_cancer"}),
        ("icd10", "D00", "", set()),
        ("icd10", "Z51.5", "", {"palliative_or_cancer"}),
        ("snomed", "103735009", "", {"palliative_or_cancer"}),
        ("icd10", "F11.2", "", {"opioid_use_disorder"}),
        ("snomed", "75544000", "", {"opioid_use_disorder"}),
        ("icpc", "P19", "drugsmisbruik heroïne", {"opioid_use_disorder"}),
        ("icpc", "P19", "drugsmisbruik cannabis", set()),
        ("icd10", "F10.2", "", {"alcohol_use_disorder"}),
        ("icpc", "W78", "", {"pregnancy"}),
    ],
)
def test_condition_sets(
    catalogue: Catalogue, system: str, code: str, text: str, expected: set[str]
) -> None:
    assert catalogue.condition_sets(system, code, text) == expected


def test_role_codes(catalogue: Catalogue) -> None:
    assert catalogue.role_for_code("agb_specialism", "0100") == "gp"
    assert catalogue.role_for_code("agb_specialism", "0303") == "specialist"
    assert catalogue.role_for_code("uzi_role", "01.015") == "gp"
    assert catalogue.role_for_code("uzi_role", "01.039") == "specialist"
    assert catalogue.role_for_code("uzi_role", "01.000") == "unknown"
    assert catalogue.role_for_code("snomed", "62247001") == "gp"
    assert catalogue.role_for_code("snomed", "1234") is None
    assert catalogue.role_for_text("Huisartsenpraktijk Pulver & Partners") == "gp"
    assert catalogue.role_for_text("Meander Medisch Centrum, ziekenhuis") == "specialist"
    assert catalogue.role_for_text("Huisartsen, niet nader gespecificeerd") == "gp"


def test_units_through_ucum(catalogue: Catalogue) -> None:
    assert catalogue.units.to_canonical(0.075, "mg/h") == Quantity(75.0, "ug/h")
    assert catalogue.units.to_canonical(12, "ug/uur") == Quantity(12, "ug/h")
    assert catalogue.units.to_canonical(500, "ug") == Quantity(0.5, "mg")
    assert catalogue.units.to_canonical(1, "{tab}") == Quantity(1, "1")
    assert catalogue.units.to_canonical(1, "stuk") == Quantity(1, "1")
    assert catalogue.units.to_canonical(1, "furlong") is None
    assert catalogue.units.days_per_unit("wk") == 7
    assert catalogue.units.days_per_unit("h") == pytest.approx(1 / 24)
    assert catalogue.timing_code_doses("BID") == 2
    assert catalogue.timing_code_doses("q4h") == 6
