"""Reading a product from its name alone (docs/definitions.md §1): substance, strength per
unit, release type and the route its form word gives, over real product names.

Each row names where the name was found. Nictiz rows are G-Standaard names in the public Nictiz
test instances (github.com/Nictiz/Nictiz-testscripts, `output/...` paths below, and
github.com/Nictiz/HL7-mappings); OMTKData rows are RxNorm names in
github.com/cqframework/opioid-mme-r4 `input/cql/OMTKData.cql`. Naming patterns the public data
does not show (SMELTTABLET, NEUSSPRAY, MVA, DRANK of an opioid, ...) are marked "pattern": built
after the G-Standaard naming convention, not copied from a source.
"""

from __future__ import annotations

from typing import NamedTuple

import pytest

from fhir_fixtures.builders import dosage, med_request, qty
from rules.catalogue import Catalogue, Quantity, ReleaseType
from rules.facts.medication import medication_input, recognise
from tests.rules.facts.conftest import order_of

LONG, SHORT = ReleaseType.LONG_ACTING, ReleaseType.SHORT_ACTING
TS_R4 = "Nictiz-testscripts output/R4/MP9-3-0-0-beta/MO"
TS_STU3 = "Nictiz-testscripts output/STU3"
OMTK = "opioid-mme-r4 input/cql/OMTKData.cql"
PATTERN = "pattern (G-Standaard naming convention; no public instance found)"


class Row(NamedTuple):
    name: str
    substance: str
    strength: Quantity | None
    release: ReleaseType
    route: str | None  # what the form word says; None where a release word decides
    source: str


ROWS = [
    Row(
        "OXAZEPAM TABLET 10MG",
        "oxazepam",
        Quantity(10, "mg"),
        SHORT,
        "oral",
        f"{TS_R4}/Test/_reference/fixtures/mg-mp-mg-tst-MA-Scenarioset0-v30.xml",
    ),
    Row(
        "OXAZEPAM ACTAVIS TABLET 10MG",
        "oxazepam",
        Quantity(10, "mg"),
        SHORT,
        "oral",
        f"{TS_R4}/Test/_reference/fixtures/mg-mp-mg-tst-MTD-Scenarioset0-v30.xml",
    ),
    Row(
        "TEMAZEPAM CAPSULE 20MG",
        "temazepam",
        Quantity(20, "mg"),
        SHORT,
        "oral",
        f"{TS_R4}/Cert/_reference/fixtures/av-mp-va-kwal-script5-stop-v30.xml",
    ),
    Row(
        "TEMAZEPAM AUROBINDO CAPSULE 20MG",
        "temazepam",
        Quantity(20, "mg"),
        SHORT,
        "oral",
        f"{TS_R4}/Cert/_reference/fixtures/av-mp-va-kwal-script5-stop-v30.xml",
    ),
    Row(
        "TEMAZEPAM APOTEX TABLET 10MG",
        "temazepam",
        Quantity(10, "mg"),
        SHORT,
        "oral",
        f"{TS_STU3}/Medication-9-0-7/MedMij/Cert/_reference/resources/"
        "zib-MedicationUse-mp9-MBH-5132-2-MGB-1.xml",
    ),
    Row(
        "Diazepam PCH tablet 5mg",
        "diazepam",
        Quantity(5, "mg"),
        SHORT,
        "oral",
        f"{TS_STU3}/Medication-9-0-7/MedMij/Cert/_reference/resources/"
        "AdministrationAgreement-mp9-78074d50-100a-11e5-b939-0800200c9a66.xml",
    ),
    Row(
        "DIAZEPAM KATWIJK TABLET  2MG",
        "diazepam",
        Quantity(2, "mg"),
        SHORT,
        "oral",
        "Nictiz/HL7-mappings (test instance display)",
    ),
    Row(
        "CODEINE TABLET 10MG (FOSFAAT)",
        "codeine",
        Quantity(10, "mg"),
        SHORT,
        "oral",
        f"{TS_R4}/Test/_reference/fixtures/"
        "av-mp-va-tst-6-12-variabele-hoeveelheid-en-maximum-v30.xml",
    ),
    Row(
        "CODEINEFOSFAAT PCH TABLET 10MG",
        "codeine",
        Quantity(10, "mg"),
        SHORT,
        "oral",
        f"{TS_R4}/Test/_reference/fixtures/"
        "av-mp-va-tst-6-12-variabele-hoeveelheid-en-maximum-v30.xml",
    ),
    Row(
        "PARACETAMOL/CODEINE ZETPIL 500/10MG",
        "codeine",
        Quantity(10, "mg"),
        SHORT,
        "rectal",
        f"{TS_STU3}/GenPractData-2-0/MedMij/Cert/_reference/resources-query-send/"
        "medmij-gpdata-medicationrequest-contact06-paracetamol-codein.xml",
    ),
    Row(
        "PARACETAMOL/CODEINE TABLET 500/10MG",
        "codeine",
        Quantity(10, "mg"),
        SHORT,
        "oral",
        "project fixtures (fhir_fixtures/*.json)",
    ),
    Row(
        "MORFINE INFVLST 5MG/ML CAS 100ML",
        "morphine",
        Quantity(5, "mg/mL"),
        SHORT,
        "parenteral",
        f"{TS_R4}/Test/_reference/fixtures/av-mp-va-tst-6-13-toedieningssnelheid-v30.xml",
    ),
    Row(
        "MORFINE HCL 3WATER INFVLST 5MG/ML CASS 100ML AHZ",
        "morphine",
        Quantity(5, "mg/mL"),
        SHORT,
        "parenteral",
        f"{TS_R4}/Test/_reference/fixtures/av-mp-va-tst-6-13-toedieningssnelheid-v30.xml",
    ),
    Row(
        "MORFINE INFVLST 5MG/ML (HCL)",
        "morphine",
        Quantity(5, "mg/mL"),
        SHORT,
        "parenteral",
        f"{TS_STU3}/Medication-9-0-7/MedMij/Cert/_reference/resources/"
        "zib-MedicationAgreement-mp9-MBH-413-13-MA-2.xml",
    ),
    Row(
        "MORFINEHYDROCHLORIDE 5MG/ML DELTEC CAS 100ML PA",
        "morphine",
        Quantity(5, "mg/mL"),
        SHORT,
        "parenteral",
        f"{TS_STU3}/Medication-9-0-7/MedMij/Cert/_reference/resources/"
        "zib-AdministrationAgreement-mp9-MBH-413-13-TA-1.xml",
    ),
    Row(
        "OXYCODON TABLET MGA 10MG",
        "oxycodone",
        Quantity(10, "mg"),
        LONG,
        None,
        f"{TS_R4}/Test/_reference/fixtures/mv-mp-vo-vsg-tst-23-2a-vma-afgewezen-PRK-v30.xml",
    ),
    Row(
        "OXYCODON TABLET 5MG",
        "oxycodone",
        Quantity(5, "mg"),
        SHORT,
        "oral",
        "project fixtures (fhir_fixtures/*.json)",
    ),
    Row(
        "FENTANYL PLEISTER 12UG/UUR (SANDOZ)",
        "fentanyl",
        Quantity(12, "ug/h"),
        LONG,
        "transdermal",
        f"{TS_STU3}/Medication-9-0-7-test/MedMij/Test/_reference/testset_MA-VV-MO/"
        "zib-MedicationAgreement-mp9-tsMBH-907-toedieningsduur-MA-GSB.xml",
    ),
    Row(
        "FENTANYL INFVLST 0,05MG/ML",
        "fentanyl",
        Quantity(0.05, "mg/mL"),
        SHORT,
        "parenteral",
        f"{TS_STU3}/Medication-9-0-7-test/MedMij/Test/_reference/testset_MA-VV-MO/"
        "zib-MedicationAgreement-mp9-tsMBH-907-toedieningssnelheid-MA-GSB.xml",
    ),
    Row(
        "TRAMADOL CAPSULE 50MG",
        "tramadol",
        Quantity(50, "mg"),
        SHORT,
        "oral",
        f"{TS_STU3}/BgZ-MSZ-2-0/Cert/_reference/resources/"
        "zib-MedicationAgreement-msz-2b9f02d2-6b17-11ec-0000-2.xml",
    ),
    Row(
        "TRAMADOL HCL CF CAPSULE 50MG",
        "tramadol",
        Quantity(50, "mg"),
        SHORT,
        "oral",
        f"{TS_STU3}/BgZ-MSZ-2-0/Cert/_reference/resources/"
        "zib-AdministrationAgreement-msz-c84431bd-6af3-11ec-0000-2.xml",
    ),
    Row(
        "TRAMADOL HCL RETARD TABLET MGA 100MG",
        "tramadol",
        Quantity(100, "mg"),
        LONG,
        None,
        "project fixtures (fhir_fixtures/*.json)",
    ),
    Row(
        "METHADON HCL DRANK 1MG/ML",
        "methadone",
        Quantity(1, "mg/mL"),
        LONG,
        "oral",
        "project fixtures (fhir_fixtures/*.json)",
    ),
    Row(
        "acetaminophen 325 MG / tramadol hydrochloride 37.5 MG Oral Tablet [Ultracet]",
        "tramadol",
        Quantity(37.5, "mg"),
        SHORT,
        "oral",
        f"{OMTK} (836397)",
    ),
    Row(
        "acetaminophen 300 MG / codeine phosphate 30 MG Oral Tablet",
        "codeine",
        Quantity(30, "mg"),
        SHORT,
        "oral",
        f"{OMTK} (993781)",
    ),
    Row(
        "codeine phosphate 12.5 MG / ibuprofen 200 MG Oral Tablet",
        "codeine",
        Quantity(12.5, "mg"),
        SHORT,
        "oral",
        f"{OMTK} (997164)",
    ),
    Row(
        "buprenorphine 2 MG / naloxone 0.5 MG Sublingual Tablet",
        "buprenorphine",
        Quantity(2, "mg"),
        SHORT,
        None,
        f"{OMTK} (351266)",
    ),
    Row(
        "morphine sulfate 20 MG Extended Release Oral Capsule [Kadian]",
        "morphine",
        Quantity(20, "mg"),
        LONG,
        None,
        f"{OMTK} (892598)",
    ),
    Row(
        "12 HR oxycodone hydrochloride 80 MG Extended Release Oral Tablet",
        "oxycodone",
        Quantity(80, "mg"),
        LONG,
        None,
        f"{OMTK} (1049599)",
    ),
    Row(
        "Abuse-Deterrent 24 HR hydrocodone bitartrate 80 MG Extended Release Oral Tablet",
        "hydrocodone",
        Quantity(80, "mg"),
        LONG,
        None,
        f"{OMTK} (1595758)",
    ),
    Row(
        "72 HR fentanyl 0.025 MG/HR Transdermal System",
        "fentanyl",
        Quantity(25, "ug/h"),
        LONG,
        "transdermal",
        f"{OMTK} (245134)",
    ),
    Row(
        "TRAMADOL/PARACETAMOL TABLET 37,5/325MG",
        "tramadol",
        Quantity(37.5, "mg"),
        SHORT,
        "oral",
        PATTERN,
    ),
    Row("OXYCODON/NALOXON TABLET MGA 10/5MG", "oxycodone", Quantity(10, "mg"), LONG, None, PATTERN),
    Row("TAPENTADOL TABLET MVA 50MG", "tapentadol", Quantity(50, "mg"), LONG, None, PATTERN),
    Row("MORFINE TABLET MGA 30MG (SULFAAT)", "morphine", Quantity(30, "mg"), LONG, None, PATTERN),
    Row("HYDROMORFON CAPSULE MGA 4MG", "hydromorphone", Quantity(4, "mg"), LONG, None, PATTERN),
    Row(
        "BUPRENORFINE PLEISTER 5UG/UUR",
        "buprenorphine",
        Quantity(5, "ug/h"),
        LONG,
        "transdermal",
        PATTERN,
    ),
    Row("FENTANYL SMELTTABLET 100UG", "fentanyl", Quantity(0.1, "mg"), SHORT, None, PATTERN),
    Row("FENTANYL NEUSSPRAY 100UG/DOSIS", "fentanyl", Quantity(0.1, "mg"), SHORT, None, PATTERN),
    Row("MORFINE ZETPIL 10MG", "morphine", Quantity(10, "mg"), SHORT, "rectal", PATTERN),
    Row("OXYCODON DRANK 1MG/ML", "oxycodone", Quantity(1, "mg/mL"), SHORT, "oral", PATTERN),
    Row("TRAMADOL HCL TABLET BRUIS 50MG", "tramadol", Quantity(50, "mg"), SHORT, "oral", PATTERN),
    Row("ZOLPIDEM TABLET 10MG (TARTRAAT)", "zolpidem", Quantity(10, "mg"), SHORT, "oral", PATTERN),
    Row(
        "MIDAZOLAM INJVLST 5MG/ML", "midazolam", Quantity(5, "mg/mL"), SHORT, "parenteral", PATTERN
    ),
    Row("PREGABALINE CAPSULE 75MG", "pregabalin", Quantity(75, "mg"), SHORT, "oral", PATTERN),
    # An amount per volume: a concentration, not an amount per unit (it was read as 5 mg a
    # "stuk"). The G-Standaard writes solutions so; no public instance found, hence PATTERN.
    Row("MORFINE HCL DRANK 1ML= 5MG", "morphine", Quantity(5, "mg/mL"), SHORT, "oral", PATTERN),
    Row("MORFINE HCL DRANK 1 ML = 5 MG", "morphine", Quantity(5, "mg/mL"), SHORT, "oral", PATTERN),
    Row("MORFINE HCL DRANK 5ML=10MG", "morphine", Quantity(2, "mg/mL"), SHORT, "oral", PATTERN),
    Row("OXYCODON HCL DRANK 1ML=1MG", "oxycodone", Quantity(1, "mg/mL"), SHORT, "oral", PATTERN),
    Row("METHADON HCL DRANK 1ML=1MG", "methadone", Quantity(1, "mg/mL"), LONG, "oral", PATTERN),
    Row(
        "MORFINE HCL INJVLST 1ML=10MG",
        "morphine",
        Quantity(10, "mg/mL"),
        SHORT,
        "parenteral",
        PATTERN,
    ),
    Row(
        "FENTANYL INJVLST 1ML=50MCG",
        "fentanyl",
        Quantity(0.05, "mg/mL"),
        SHORT,
        "parenteral",
        PATTERN,
    ),
    Row(
        "PARACETAMOL/CODEINE DRANK 5ML=120/12MG",
        "codeine",
        Quantity(2.4, "mg/mL"),
        SHORT,
        "oral",
        PATTERN,
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_a_product_read_from_its_name(catalogue: Catalogue, row: Row) -> None:
    facts = recognise(catalogue, medication_input({"text": row.name}, None, resolved=True))
    assert [s.key for s in facts.substances] == [row.substance], row.source
    assert facts.strength_per_unit == row.strength, row.source
    assert facts.release_type is row.release, row.source
    assert facts.route_hint == row.route, row.source
    assert facts.is_patch == (row.route == "transdermal"), row.source


@pytest.mark.parametrize(
    "name",
    [
        # two names, one strength: whose is it?
        "PARACETAMOL/CODEINE TABLET 500MG",
        # three names, two strengths
        "PARACETAMOL/COFFEINE/CODEINE TABLET 500/10MG",
        # two names, one amount per volume
        "PARACETAMOL/CODEINE DRANK 5ML=120MG",
        # two opioids in one product have no single strength per unit
        "buprenorphine 2 MG / morphine 10 MG Oral Tablet",
    ],
)
def test_a_strength_the_name_does_not_assign_is_not_guessed(
    catalogue: Catalogue, name: str
) -> None:
    facts = recognise(catalogue, medication_input({"text": name}, None, resolved=True))
    assert facts.is_opioid
    assert facts.strength_per_unit is None


def test_a_drank_dosed_in_ml_counts_its_concentration(catalogue: Catalogue) -> None:
    """2 ml of 5 mg/ml six times a day: 60 mg morphine, by mouth 60 mg OME (it was "not
    computable": a dose in ml of a product read as 5 mg a unit)."""
    request = med_request(
        "o1",
        {"text": "MORFINE HCL DRANK 1ML= 5MG"},
        dosages=[dosage(frequency=6, dose=qty(2, "mL"))],
    )
    assert order_of(catalogue, request).ome_mg_per_day == pytest.approx(60)
