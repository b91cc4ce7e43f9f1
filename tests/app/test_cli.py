"""`opioid-cds`: help, offline evaluation (same cards as the HTTP API), fixtures, rule sets."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from app.cli import build_parser, check_expectation, format_cards_table, main
from app.playground import fixture_infos, load_fixture_request, rule_ids_of
from rules.fixtures import list_fixtures
from tests.app.live_server import EXAMPLE_TRUST_FILE, LiveService, live_service
from tests.conftest import fresh_postgres_database

FIXTURES = list_fixtures()


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def card_keys(body: dict[str, Any]) -> list[tuple[str, str, str]]:
    """What must agree between the CLI and the API: uuids differ from call to call."""
    return [
        (card["summary"], card["indicator"], rule)
        for card, rule in zip(body["cards"], rule_ids_of(body), strict=True)
    ]


def without_uuids(value: Any) -> Any:
    """The body with every uuid (of cards, suggestions, created resources) blanked out."""
    uuid_pattern = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
    if isinstance(value, dict):
        return {key: without_uuids(item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_uuids(item) for item in value]
    if isinstance(value, str):
        return uuid_pattern.sub("<uuid>", value)
    return value


# --- help ----------------------------------------------------------------------------------


def test_help_explains_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for command in ("migrate", "evaluate", "fixtures", "rules"):
        assert command in text
    assert "exit codes" in text


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["evaluate", "--help"], ["REQUEST.json", "--format", "exact response body", "offline"]),
        (["fixtures", "--help"], ["list", "run"]),
        (["fixtures", "list", "--help"], ["--format"]),
        (["fixtures", "run", "--help"], ["--base", "--fixture", "--token"]),
        (["rules", "--help"], ["validate", "docs"]),
        (["rules", "validate", "--help"], ["FILE:LINE"]),
        (["rules", "docs", "--help"], ["Markdown", "--output"]),
        (["migrate", "--help"], ["OPIOID_CDS_DATABASE_URL"]),
    ],
)
def test_every_subcommand_has_help(
    capsys: pytest.CaptureFixture[str], argv: list[str], expected: list[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for word in expected:
        assert word in text


def test_every_subparser_action_has_a_help_text() -> None:
    parser = build_parser()
    pending = [parser]
    while pending:
        current = pending.pop()
        for action in current._actions:
            if action.dest == "help":
                continue
            if action.choices and isinstance(action.choices, dict):
                pending.extend(action.choices.values())
                continue
            if action.option_strings or action.dest not in ("command",):
                assert action.help, f"{current.prog}: {action.dest} has no help"


# --- evaluate ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", FIXTURES, ids=[path.name for path in FIXTURES])
def test_evaluate_prints_the_cards_the_http_api_returns(
    path: Path, client: TestClient, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    request, info = load_fixture_request(path.name.removesuffix(".json"))
    request_file = tmp_path / path.name
    request_file.write_text(json.dumps(request), encoding="utf-8")
    code, out, err = run_cli(
        capsys, "evaluate", str(request_file), "--format", "json", "--language", info.language
    )
    assert code == 0, err
    offline = json.loads(out)

    response = client.post(
        f"/cds-services/{info.service}", json=request, headers={"Accept-Language": info.language}
    )
    assert response.status_code == 200
    assert card_keys(offline) == card_keys(response.json())
    assert without_uuids(offline) == without_uuids(response.json())


@pytest.mark.parametrize("name", ["early-refill", "chronic-use-oxycodon"])
def test_evaluate_moves_a_fixtures_dates_to_today(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A fixture file as it is in the repository (written around its anchor day) gives the
    cards its sidecar promises on any day, and the CLI says it moved the dates."""
    info = next(info for info in fixture_infos() if info.name == name)
    path = next(path for path in FIXTURES if path.name == f"{name}.json")
    code, out, err = run_cli(capsys, "evaluate", str(path), "--format", "json")
    assert code == 0, err
    assert "its dates were moved to today" in err
    fired = rule_ids_of(json.loads(out))
    assert set(info.must_fire) <= set(fired)


def test_evaluate_prints_a_readable_table(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    info = next(info for info in fixture_infos() if info.must_fire)
    request, _ = load_fixture_request(info.name)
    (tmp_path / "request.json").write_text(json.dumps(request), encoding="utf-8")
    code, out, _err = run_cli(capsys, "evaluate", str(tmp_path / "request.json"), "--details")
    assert code == 0
    assert out.splitlines()[0].split() == ["#", "INDICATOR", "RULE", "SUMMARY"]
    for rule in info.must_fire:
        assert rule in out
    assert f"from {info.service} (offline" in out
    assert "uuid: " in out  # --details


def test_table_of_no_cards_says_so() -> None:
    assert format_cards_table({"cards": []}).startswith("No cards")


def test_table_wraps_long_summaries() -> None:
    body = {
        "cards": [
            {
                "summary": "woord " * 30,
                "indicator": "warning",
                "source": {"label": "x", "topic": {"system": "urn:opioid-cds:rule", "code": "r"}},
            }
        ]
    }
    lines = format_cards_table(body, width=80).splitlines()
    assert len(lines) > 2
    assert all(len(line) <= 80 for line in lines)


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "request.json"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"hook": "order-sign",', "is not valid JSON"),
        ("", "is empty"),
        ("[1, 2]", "must be a JSON object"),
        ('{"hookInstance": "x", "context": {}}', 'has no "hook"'),
        ('{"hook": "medication-prescribe", "context": {}}', "no service answers hook"),
        (
            '{"hook": "order-sign", "hookInstance": "x", "context": {"patientId": "p"}}',
            "context.userId",
        ),
    ],
)
def test_evaluate_explains_invalid_input_with_exit_code_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str, message: str
) -> None:
    code, out, err = run_cli(capsys, "evaluate", _write(tmp_path, content))
    assert code == 2
    assert message in err
    assert out == ""


def test_evaluate_missing_file_and_unknown_service(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _out, err = run_cli(capsys, "evaluate", str(tmp_path / "nope.json"))
    assert (code, "no such file" in err) == (2, True)
    request = _write(tmp_path, '{"hook": "order-sign"}')
    code, _out, err = run_cli(capsys, "evaluate", request, "--service", "nope")
    assert (code, "unknown service 'nope'" in err) == (2, True)


def test_evaluate_without_required_prefetch_is_explained(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """order-sign needs the medication history; offline, fhirServer is never contacted."""
    path = next(p for p in FIXTURES if json.loads(p.read_text())["hook"] == "order-sign")
    request = json.loads(path.read_text())
    request.pop("prefetch", None)
    request["fhirServer"] = "http://127.0.0.1:9/fhir"  # would be refused if it were tried
    code, out, err = run_cli(capsys, "evaluate", _write(tmp_path, json.dumps(request)))
    assert code == 2
    assert "412" in err and "medicationRequests" in err
    assert out == ""


def test_evaluate_says_which_data_was_missing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = next(p for p in FIXTURES if json.loads(p.read_text())["hook"] == "order-select")
    request = json.loads(path.read_text())
    request.pop("prefetch", None)
    code, out, err = run_cli(capsys, "evaluate", _write(tmp_path, json.dumps(request)))
    assert code == 0
    assert "card" in out
    assert "note: no data for prefetch key(s)" in err
    assert "medicationRequests" in err


def test_console_script_keeps_stdout_for_the_cards(tmp_path: Path) -> None:
    """Run as a user does: the service's logs never end up in the JSON on stdout."""
    request, _info = load_fixture_request(fixture_infos()[0].name)
    path = _write(tmp_path, json.dumps(request))
    script = Path(sys.executable).with_name("opioid-cds")
    result = subprocess.run(
        [str(script), "evaluate", path, "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "cards" in json.loads(result.stdout)
    bad = subprocess.run(
        [str(script), "evaluate", _write(tmp_path, "{")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 2
    assert "not valid JSON" in bad.stderr


# --- fixtures ------------------------------------------------------------------------------


def test_fixtures_list(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run_cli(capsys, "fixtures", "list")
    assert code == 0
    for info in fixture_infos():
        assert info.name in out
    assert f"{len(FIXTURES)} fixtures" in out
    code, out, _err = run_cli(capsys, "fixtures", "list", "--format", "json")
    listed = json.loads(out)
    assert [item["name"] for item in listed] == [info.name for info in fixture_infos()]
    assert {"name", "service", "hook", "description", "mustFire", "mustNotFire"} <= set(listed[0])


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    with live_service(tmp_path_factory.mktemp("cli")) as running:
        yield running


def test_fixtures_run_reports_which_expectations_hold(
    service: LiveService, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "fixtures", "run", "--base", service.base_url)
    # Independently of the CLI: post every fixture and judge its expectation.
    held = 0
    with httpx.Client(base_url=service.base_url, timeout=30) as http:
        for info in fixture_infos():
            request, _ = load_fixture_request(info.name)
            body = http.post(
                f"/cds-services/{info.service}",
                json=request,
                headers={"Accept-Language": info.language},
            ).json()
            problem = check_expectation(rule_ids_of(body), info.must_fire, info.must_not_fire)
            mark = "FAIL" if problem or "cards" not in body else "PASS"
            held += mark == "PASS"
            assert f"{mark}  {info.name}  ({info.service})" in out, err
    assert f"{held} of {len(FIXTURES)} fixtures hold their expectations" in out
    assert code == (0 if held == len(FIXTURES) else 1)


def test_fixtures_run_one_fixture(service: LiveService, capsys: pytest.CaptureFixture[str]) -> None:
    name = fixture_infos()[0].name
    _code, out, _err = run_cli(
        capsys, "fixtures", "run", "--base", service.base_url + "/", "--fixture", name
    )
    assert f"  {name}  " in out
    assert "of 1 fixtures hold" in out


def test_fixtures_run_explains_a_401(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trust_file = tmp_path / "trusted-clients.json"
    trust_file.write_text(json.dumps(EXAMPLE_TRUST_FILE), encoding="utf-8")
    name = fixture_infos()[0].name
    with live_service(tmp_path, trusted_clients=trust_file) as secured:
        code, out, _err = run_cli(
            capsys, "fixtures", "run", "--base", secured.base_url, "--fixture", name,
            "--token", "not-a-jwt",
        )  # fmt: skip
    assert code == 1
    assert f"FAIL  {name}" in out
    assert "HTTP 401: unauthorized (the service wants a signed client JWT" in out
    assert "0 of 1 fixtures hold" in out


def test_fixtures_run_signs_a_fresh_token_per_request_for_a_production_service(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from jwt.algorithms import ECAlgorithm

    private_key = ec.generate_private_key(ec.SECP384R1())
    key_file = tmp_path / "client-key.pem"
    key_file.write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public_jwk = json.loads(ECAlgorithm.to_jwk(private_key.public_key()))
    public_jwk.update(kid="toolkit-test", use="sig", alg="ES384")
    trust_file = tmp_path / "trusted-clients.json"
    issuer = "https://his.toolkit-test.example"
    trust_file.write_text(
        json.dumps({"clients": [{"iss": issuer, "jwks": {"keys": [public_jwk]}}]}),
        encoding="utf-8",
    )
    names = [info.name for info in fixture_infos() if info.must_fire][:3]
    selection = [argument for name in names for argument in ("--fixture", name)]
    with live_service(
        tmp_path, environment="production", trusted_clients=trust_file, audit_secret="s" * 32
    ) as production:
        unsigned = run_cli(capsys, "fixtures", "run", "--base", production.base_url, *selection)
        signed = run_cli(
            capsys, "fixtures", "run", "--base", production.base_url, *selection,
            "--sign-key", str(key_file), "--issuer", issuer, "--kid", "toolkit-test",
        )  # fmt: skip
        used_jtis = production.query("SELECT count(*) AS n FROM seen_jwt_ids")[0]["n"]
    assert unsigned[0] == 1
    assert unsigned[1].count("HTTP 401") == len(names)
    _code, out, err = signed
    assert "HTTP 401" not in out, err
    assert out.count("PASS  ") + out.count("FAIL  ") == len(names)
    assert f"of {len(names)} fixtures hold" in out
    assert used_jtis == len(names)  # one fresh token per request


def test_fixtures_run_refuses_incomplete_signing_options(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    base = ("fixtures", "run", "--base", "http://127.0.0.1:9")
    code, _out, err = run_cli(capsys, *base, "--sign-key", str(tmp_path / "k.pem"))
    assert (code, "--sign-key needs --issuer" in err) == (2, True)
    (tmp_path / "k.pem").write_text("not a key", encoding="utf-8")
    code, _out, err = run_cli(
        capsys, *base, "--sign-key", str(tmp_path / "k.pem"), "--issuer", "i", "--kid", "k"
    )
    assert (code, "not an unencrypted PEM private key" in err) == (2, True)


def test_fixtures_run_explains_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = run_cli(capsys, "fixtures", "run", "--base", "http://127.0.0.1:9")
    assert code == 2
    assert "cannot reach the service at http://127.0.0.1:9" in err
    code, _out, err = run_cli(capsys, "fixtures", "run", "--base", "127.0.0.1:8000")
    assert (code, "--base must be an http(s) URL" in err) == (2, True)
    code, _out, err = run_cli(
        capsys, "fixtures", "run", "--base", "http://127.0.0.1:9", "--fixture", "nope"
    )
    assert (code, "no fixture called nope" in err) == (2, True)


def test_check_expectation() -> None:
    assert check_expectation(["a", "b"], ["a"], ["c"]) == ""
    assert check_expectation(["b"], ["a"], ["b"]) == "did not fire: a; fired but must not: b"


# --- rules ---------------------------------------------------------------------------------


def test_rules_validate_the_default_rule_set(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run_cli(capsys, "rules", "validate")
    assert code == 0
    assert out.strip().endswith(": valid")


def test_rules_validate_names_file_and_line_of_problems(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: Not An Id\nversion: '1'\n", encoding="utf-8")
    code, out, _err = run_cli(capsys, "rules", "validate", str(broken))
    assert code == 1
    assert f"{broken}:1:" in out
    assert "problem" in out.splitlines()[-1]
    code, _out, err = run_cli(capsys, "rules", "validate", str(tmp_path / "missing.yaml"))
    assert (code, "no such file" in err) == (2, True)


def test_rules_docs_prints_the_generated_rule_documentation(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from app.rule_examples import example_cards
    from rules.rulesets import load_ruleset
    from rules.rulesets.docs import render_rules_markdown

    code, out, _err = run_cli(capsys, "rules", "docs")
    assert code == 0
    expected = render_rules_markdown(load_ruleset(), asyncio.run(example_cards()))
    assert out == expected
    assert "Example card (English)" in out
    for rule_id in load_ruleset().rules:
        assert f"`{rule_id}`" in out
    target = tmp_path / "rules.md"
    code, out, _err = run_cli(capsys, "rules", "docs", "--output", str(target))
    assert (code, out.strip()) == (0, f"wrote {target}")
    assert target.read_text(encoding="utf-8") == expected


def test_rules_docs_refuses_a_broken_rule_set(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: x\n", encoding="utf-8")
    code, out, err = run_cli(capsys, "rules", "docs", str(broken))
    assert code == 1
    assert out == ""
    assert str(broken) in err


def test_migrate_is_still_there(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPIOID_CDS_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}")
    code, out, _err = run_cli(capsys, "migrate")
    assert code == 0
    assert "up to date" in out
    assert (tmp_path / "db.sqlite3").exists()


def test_migrations_started_together_on_postgresql_all_succeed() -> None:
    """A retried migration Job beside the first, or two operators: without a lock two of
    three failed with IntegrityError (both created the tables)."""
    with fresh_postgres_database("opioid_cds_migrate_race") as url:
        env = {**os.environ, "OPIOID_CDS_DATABASE_URL": url}
        runs = [
            subprocess.Popen(
                [sys.executable, "-m", "app.cli", "migrate"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for _ in range(3)
        ]
        outcomes = [(run.wait(timeout=120), run.communicate()[0]) for run in runs]
    assert [code for code, _ in outcomes] == [0, 0, 0], outcomes
    assert all("up to date" in out for _, out in outcomes)


def test_version_names_the_installed_package(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert capsys.readouterr().out.strip() == f"opioid-cds {project['project']['version']}"


def test_the_signed_fixtures_run_of_integration_md_passes_against_production(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/integration.md §9's command, word for word but for the deployment's URL: with the
    key file, issuer and kid it names, against a production service that trusts them."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from jwt.algorithms import ECAlgorithm

    text = (Path(__file__).resolve().parents[2] / "docs" / "integration.md").read_text()
    block = re.search(r"```sh\n(opioid-cds fixtures run --base https://cds\.example\.org.*?)```",
                      text, re.DOTALL)  # fmt: skip
    assert block is not None
    words = shlex.split(block.group(1).replace("\\\n", " "))
    options = dict(zip(words[3::2], words[4::2], strict=True))
    private_key = ec.generate_private_key(ec.SECP384R1())
    (tmp_path / options["--sign-key"]).write_bytes(
        private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public_jwk = json.loads(ECAlgorithm.to_jwk(private_key.public_key()))
    public_jwk.update(kid=options["--kid"], use="sig", alg="ES384")
    trust_file = tmp_path / "trusted-clients.json"
    trust_file.write_text(
        json.dumps({"clients": [{"iss": options["--issuer"], "jwks": {"keys": [public_jwk]}}]})
    )
    with live_service(
        tmp_path, environment="production", trusted_clients=trust_file, audit_secret="s" * 32
    ) as production:
        argv = [production.base_url if word == options["--base"] else word for word in words]
        monkeypatch.chdir(tmp_path)  # the key file is named relative to where it runs
        code, out, err = run_cli(capsys, *argv[1:])
    assert "HTTP 401" not in out, err
    assert code == 0, out + err
    assert "fixtures hold" in out


def test_migrate_names_an_unreachable_database_without_its_password(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPIOID_CDS_DATABASE_URL", "postgresql+asyncpg://cds:hunter2@127.0.0.1:9/x")
    code, _out, err = run_cli(capsys, "migrate")
    assert code == 1
    assert "cannot migrate the database at postgresql+asyncpg://cds:***@127.0.0.1:9/x" in err
    assert "hunter2" not in err and "internal error" not in err
