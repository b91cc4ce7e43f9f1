"""The fixture files as people write them: every request with its sidecar and the other way
round, each request a valid request for the sidecar's service, rule ids that exist, and the
README and docs naming fixtures that are there.

What each fixture fires is `test_fixtures_http.py`; the wheel carrying them is
`tests/packaging/test_wheel.py`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.services import SERVICES
from cds_hooks.contexts import validate_context
from cds_hooks.models import HookRequest
from rules.fixtures import ANCHOR_DATE, FIXTURES_DIR, list_fixtures, load_fixture
from rules.rulesets import RuleSet

ROOT = Path(__file__).resolve().parents[2]
REQUEST, SIDECAR = ".json", ".expect.yaml"
# Besides the fixtures the folder holds its README, the package's __init__.py, the builders
# of FHIR test data and the generated Bulk Data population made with them, nothing else.
NOT_FIXTURES = {"README.md", "__init__.py", "builders.py", "population.py"}
FIXTURES = list_fixtures()
FILES = {path.name for path in FIXTURES_DIR.iterdir() if path.is_file()}


def _names(files: set[str], suffix: str) -> set[str]:
    return {name.removesuffix(suffix) for name in files if name.endswith(suffix)}


def test_the_fixtures_are_the_top_level_fhir_fixtures_folder_of_a_checkout() -> None:
    # README and docs name `fhir_fixtures/<name>.json`; from a checkout that is where they are.
    assert FIXTURES_DIR == ROOT / "fhir_fixtures"
    assert (FIXTURES_DIR / "__init__.py").is_file()


def test_every_request_has_a_sidecar_and_every_sidecar_a_request() -> None:
    requests, sidecars = _names(FILES, REQUEST), _names(FILES, SIDECAR)
    assert not requests - sidecars, f"requests without a {SIDECAR}: {sorted(requests - sidecars)}"
    assert not sidecars - requests, f"sidecars without a {REQUEST}: {sorted(sidecars - requests)}"
    strays = FILES - NOT_FIXTURES - {name + REQUEST for name in requests}
    strays -= {name + SIDECAR for name in sidecars}
    assert not strays, f"files that are not fixtures (a misspelt suffix?): {sorted(strays)}"
    assert {path.name.removesuffix(REQUEST) for path in FIXTURES} == requests
    assert len(FIXTURES) >= 35


@pytest.mark.parametrize("path", FIXTURES, ids=[path.stem for path in FIXTURES])
def test_each_fixture_is_a_request_for_its_sidecars_service(path: Path, ruleset: RuleSet) -> None:
    name = path.name.removesuffix(REQUEST)
    request, expectation = load_fixture(path, today=ANCHOR_DATE)  # the file as written
    assert expectation.service in SERVICES, f"{name}: no service {expectation.service!r}"
    service = SERVICES[expectation.service]

    parsed = HookRequest.model_validate(request)
    assert parsed.hook == service.hook == expectation.hook
    assert parsed.hook_instance == f"fixture-{name}"
    validate_context(parsed.hook, parsed.context)
    assert parsed.context["patientId"]
    assert parsed.prefetch is not None
    assert set(parsed.prefetch) == set(service.prefetch or {}), "every prefetch key, no others"

    unknown = set(expectation.must_fire + expectation.must_not_fire) - set(ruleset.rules)
    assert not unknown, f"{name}: no rules called {sorted(unknown)}"
    both = set(expectation.must_fire) & set(expectation.must_not_fire)
    assert not both, f"{name}: must and must not fire {sorted(both)}"


def test_the_fixture_paths_in_the_docs_exist() -> None:
    documents = [ROOT / "README.md", FIXTURES_DIR / "README.md", ROOT / "app" / "cli.py"]
    documents += sorted((ROOT / "docs").glob("*.md"))
    named = [
        (str(document.relative_to(ROOT)), name)
        for document in documents
        for name in re.findall(r"fhir_fixtures/([\w.-]+\.json)", document.read_text("utf-8"))
    ]
    assert named, "the docs name no fixture files any more; drop this test"
    missing = sorted({(document, name) for document, name in named if name not in FILES})
    assert not missing, missing
