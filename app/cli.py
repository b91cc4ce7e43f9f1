"""`opioid-cds`: the command line of the service and the integrator toolkit.

    opioid-cds migrate                       create or upgrade the database schema
    opioid-cds report [--since D] ...        the agreements report (json, csv, html)
    opioid-cds report-prune                  delete report rows older than the retention
    opioid-cds evaluate REQUEST.json         evaluate a CDS Hooks request offline
    opioid-cds fixtures list                 the example requests and what they expect
    opioid-cds fixtures run --base URL       post every fixture to a running service
    opioid-cds rules validate [FILE]         check a rule set (or overlay) file
    opioid-cds rules docs                    the rule set as Markdown
    opioid-cds chronic-users DIR             the chronic-user worklist of a Bulk Data export

Exit codes: 0 success; 1 a check failed (expectations, rule set problems) or an internal
error; 2 the input or the command line is wrong, or the service cannot be reached.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import os
import shutil
import sys
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TextIO

import httpx
import orjson
from sqlalchemy import make_url
from sqlalchemy.exc import DBAPIError

from app.cli_support import EXIT_FAILED, EXIT_INPUT, EXIT_OK, CliError
from app.cli_support import err as _err
from app.cli_support import quiet_service_logs as _quiet_service_logs
from app.db import migrate
from app.report_cli import add_report_parsers
from app.settings import ConfigurationError, settings_from_environment
from app.worklist_cli import add_chronic_users_parser
from rules.hooks import HOOK_SPECS

__all__ = ["build_parser", "main"]

_HOOK_HELP = ", ".join(f"{spec.hook} → {spec.service_id}" for spec in HOOK_SPECS)


def _terminal_width() -> int:
    return max(60, min(shutil.get_terminal_size((100, 24)).columns, 160))


# --- migrate ---------------------------------------------------------------------------------


def _migrate(_args: argparse.Namespace) -> int:
    settings = settings_from_environment()
    try:
        migrate(settings.database_url)
    except (OSError, DBAPIError) as error:  # the database's host, port or credentials
        where = make_url(settings.database_url).render_as_string(hide_password=True)
        raise CliError(
            f"cannot migrate the database at {where}: {type(error).__name__} "
            "(is it running, and is OPIOID_CDS_DATABASE_URL right?)",
            EXIT_FAILED,
        ) from None
    print("database schema is up to date")
    return EXIT_OK


# --- evaluate --------------------------------------------------------------------------------


def _read_request(source: str) -> Any:
    """The JSON in a file (or `-` for standard input), with a clear error when it is not."""
    if source == "-":
        text = sys.stdin.read()
        name = "standard input"
    else:
        path = Path(source)
        if not path.is_file():
            raise CliError(f"{source}: no such file")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"{source}: cannot be read as UTF-8 text ({exc})") from exc
        name = source
    if not text.strip():
        raise CliError(f"{name} is empty; expected a CDS Hooks request (a JSON object)")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(
            f"{name} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from exc


def _service_id_for(payload: Any, explicit: str | None) -> str:
    from app.services import SERVICES

    if explicit:
        if explicit not in SERVICES:
            raise CliError(
                f"unknown service {explicit!r}; the services are: {', '.join(sorted(SERVICES))}"
            )
        return explicit
    hook = payload.get("hook") if isinstance(payload, dict) else None
    for service in SERVICES.values():
        if service.hook == hook:
            return service.id
    if not isinstance(payload, dict):
        raise CliError("the request must be a JSON object (a CDS Hooks request)")
    if hook is None:
        raise CliError('the request has no "hook"; add it or name the service with --service')
    raise CliError(
        f"no service answers hook {hook!r}; this server offers {_HOOK_HELP} "
        "(or name one with --service)"
    )


_STATUS_MEANING = {
    400: "the request is not a valid CDS Hooks call for this service",
    404: "there is no such service",
    412: "data the hook needs is missing: put it in `prefetch` (evaluate never contacts "
    "fhirServer)",
}


def _outcome_message(body: Mapping[str, Any]) -> str:
    issues = body.get("issue") if body.get("resourceType") == "OperationOutcome" else None
    if not isinstance(issues, list) or not issues:
        return json.dumps(body, ensure_ascii=False)[:500]
    parts = []
    for issue in issues:
        text = str(issue.get("diagnostics") or issue.get("code") or "error")
        where = issue.get("expression")
        if where:
            text += f" (at {', '.join(str(item) for item in where)})"
        parts.append(text)
    return "; ".join(parts)


def _rule_id(card: Mapping[str, Any]) -> str:
    from app.playground import rule_ids_of

    ids = rule_ids_of({"cards": [card]})
    return ids[0] if ids else "-"


def format_cards_table(body: Mapping[str, Any], *, details: bool = False, width: int = 100) -> str:
    """The cards as a plain-text table: number, indicator, rule id, summary (wrapped)."""
    cards = [card for card in body.get("cards", []) or [] if isinstance(card, dict)]
    if not cards:
        return "No cards: nothing in this request conflicts with the agreements."
    rows = [
        (str(index), str(card.get("indicator", "")), _rule_id(card), str(card.get("summary", "")))
        for index, card in enumerate(cards, start=1)
    ]
    headers = ("#", "INDICATOR", "RULE", "SUMMARY")
    widths = [max(len(headers[col]), *(len(row[col]) for row in rows)) for col in range(3)]
    summary_width = max(30, width - sum(widths) - 6)
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers[:3], widths, strict=True)) + "  SUMMARY"]
    indent = " " * (sum(widths) + 6)
    for card, row in zip(cards, rows, strict=True):
        wrapped = textwrap.wrap(row[3], summary_width) or [""]
        lead = "  ".join(value.ljust(w) for value, w in zip(row[:3], widths, strict=True))
        lines.append(f"{lead}  {wrapped[0]}")
        lines.extend(indent + more for more in wrapped[1:])
        if details:
            lines.extend(indent + text for text in _card_details(card, summary_width))
    return "\n".join(lines)


def _card_details(card: Mapping[str, Any], width: int) -> list[str]:
    out: list[str] = []
    for paragraph in str(card.get("detail") or "").splitlines():
        out.extend(textwrap.wrap(paragraph, width) if paragraph.strip() else [""])
    for link in card.get("links") or []:
        out.append(f"link: {link.get('label')} <{link.get('url')}>")
    for suggestion in card.get("suggestions") or []:
        actions = ", ".join(
            f"{action.get('type')}: {action.get('description')}"
            for action in suggestion.get("actions") or []
        )
        out.append(f"suggestion: {suggestion.get('label')}" + (f" ({actions})" if actions else ""))
    reasons = [str(reason.get("display")) for reason in card.get("overrideReasons") or []]
    if reasons:
        out.append("override reasons: " + "; ".join(reasons))
    out.append(f"uuid: {card.get('uuid')}")
    out.append("")
    return out


def _evaluate(args: argparse.Namespace) -> int:
    payload = _read_request(args.request)
    if args.request != "-" and Path(args.request).with_suffix(".expect.yaml").is_file():
        # A fixture tells its story around its anchor day; evaluated as it is written, a
        # history that was current then would have run out by now, and cards would vanish.
        from rules.fixtures import ANCHOR_DATE, shift_dates

        today = date.today()
        payload = shift_dates(payload, today - ANCHOR_DATE)
        _err(
            f"note: {args.request} is a fixture written as on {ANCHOR_DATE.isoformat()}; "
            f"its dates were moved to today ({today.isoformat()})"
        )
    service_id = _service_id_for(payload, args.service)
    from app.offline import evaluate_offline

    _quiet_service_logs()
    result = asyncio.run(evaluate_offline(payload, service_id, args.language))
    if result.status != 200:
        meaning = _STATUS_MEANING.get(result.status, "the service refused the request")
        _err(
            f"the request cannot be evaluated (the HTTP API would answer {result.status}: "
            f"{meaning}):\n  {_outcome_message(result.body)}"
        )
        if args.format == "json":
            sys.stdout.buffer.write(orjson.dumps(result.body) + b"\n")
        return EXIT_INPUT if result.status < 500 else EXIT_FAILED
    if result.missing_data:
        _err(
            "note: no data for prefetch key(s) "
            f"{', '.join(result.missing_data)}; the rules that need it did not run "
            "(offline, fhirServer is never contacted: put the data in prefetch)"
        )
    if args.format == "json":
        sys.stdout.buffer.write(orjson.dumps(result.body) + b"\n")
        return EXIT_OK
    print(format_cards_table(result.body, details=args.details, width=_terminal_width()))
    cards = len(result.body.get("cards", []))
    timing = f", {result.duration_ms:.1f} ms" if result.duration_ms is not None else ""
    print(f"\n{cards} card{'s' if cards != 1 else ''} from {service_id} (offline{timing})")
    return EXIT_OK


# --- fixtures --------------------------------------------------------------------------------


def _fixtures_list(args: argparse.Namespace) -> int:
    from app.playground import fixture_infos

    infos = fixture_infos()
    if args.format == "json":
        print(json.dumps([info.to_json() for info in infos], ensure_ascii=False, indent=2))
        return EXIT_OK
    if not infos:
        print("No fixtures found.")
        return EXIT_OK
    name_width = max(len("NAME"), *(len(info.name) for info in infos))
    service_width = max(len("SERVICE"), *(len(info.service) for info in infos))
    print(f"{'NAME'.ljust(name_width)}  {'SERVICE'.ljust(service_width)}  MUST FIRE")
    for info in infos:
        fire = ", ".join(info.must_fire) or "(none)"
        print(f"{info.name.ljust(name_width)}  {info.service.ljust(service_width)}  {fire}")
        if info.description:
            for line in textwrap.wrap(info.description, _terminal_width() - name_width - 2):
                print(" " * (name_width + 2) + line)
    print(f"\n{len(infos)} fixtures")
    return EXIT_OK


@dataclass(frozen=True)
class FixtureVerdict:
    name: str
    service: str
    ok: bool
    fired: list[str]
    problem: str


def check_expectation(
    fired: Sequence[str], must_fire: Sequence[str], must_not_fire: Sequence[str]
) -> str:
    """What is wrong with the fired rule ids; empty when the expectation holds."""
    problems = []
    missing = [rule for rule in must_fire if rule not in fired]
    unexpected = [rule for rule in must_not_fire if rule in fired]
    if missing:
        problems.append("did not fire: " + ", ".join(missing))
    if unexpected:
        problems.append("fired but must not: " + ", ".join(unexpected))
    return "; ".join(problems)


@dataclass(frozen=True)
class TokenSigner:
    """Signs a fresh client JWT per request (CDS Hooks 2.0 "Trusting CDS Clients"): `aud` is
    the exact URL called, a new `jti` every time, valid for five minutes."""

    key: Any
    issuer: str
    kid: str
    algorithm: str

    @classmethod
    def from_file(cls, path: Path, issuer: str, kid: str, algorithm: str | None) -> TokenSigner:
        from cryptography.hazmat.primitives.asymmetric import ec, rsa
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        try:
            key = load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise CliError(f"{path}: not an unencrypted PEM private key ({exc})") from exc
        if isinstance(key, ec.EllipticCurvePrivateKey):
            default = {256: "ES256", 384: "ES384", 521: "ES512"}.get(key.curve.key_size, "ES384")
        elif isinstance(key, rsa.RSAPrivateKey):
            default = "RS384"
        else:
            raise CliError(f"{path}: an EC or RSA private key is needed for ES*/RS* signatures")
        return cls(key, issuer, kid, algorithm or default)

    def token_for(self, url: str) -> str:
        import time
        import uuid

        import jwt

        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": url,
            "iat": now,
            "exp": now + 300,
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode(
            claims, self.key, algorithm=self.algorithm, headers={"kid": self.kid, "typ": "JWT"}
        )


def _run_fixture(
    client: httpx.Client,
    base: str,
    name: str,
    language: str | None,
    today: date,
    signer: TokenSigner | None = None,
) -> FixtureVerdict:
    from app.playground import load_fixture_request, rule_ids_of

    request, info = load_fixture_request(name, today=today)
    headers = {"Accept": "application/json", "Accept-Language": language or info.language}
    url = f"{base}/cds-services/{info.service}"
    if signer is not None:
        headers["Authorization"] = f"Bearer {signer.token_for(url)}"
    response = client.post(
        url, content=orjson.dumps(request), headers={**headers, "Content-Type": "application/json"}
    )
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200:
        detail = _outcome_message(body) if isinstance(body, dict) and body else response.text[:200]
        if response.status_code == 401:
            detail += (
                " (the service wants a signed client JWT, a new one per request: use "
                "--sign-key/--issuer/--kid with a key from its trust file, or a development "
                "service; the service log says why; see docs/authentication.md)"
            )
        return FixtureVerdict(
            name, info.service, False, [], f"HTTP {response.status_code}: {detail}"
        )
    fired = rule_ids_of(body)
    problem = check_expectation(fired, info.must_fire, info.must_not_fire)
    return FixtureVerdict(name, info.service, not problem, fired, problem)


def _fixtures_run(args: argparse.Namespace) -> int:
    from app.playground import fixture_infos

    base = str(args.base).rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise CliError(f"--base must be an http(s) URL such as http://127.0.0.1:8000, not {base!r}")
    today = date.today()
    infos = fixture_infos()
    names = [info.name for info in infos]
    if args.fixture:
        unknown = [name for name in args.fixture if name not in names]
        if unknown:
            raise CliError(
                f"no fixture called {', '.join(unknown)}; see `opioid-cds fixtures list`"
            )
        names = [name for name in names if name in args.fixture]
    if not names:
        raise CliError("there are no fixtures to run")
    signer = None
    if args.sign_key:
        if not (args.issuer and args.kid):
            raise CliError("--sign-key needs --issuer (the iss in the trust file) and --kid")
        if args.token:
            raise CliError("give either --token or --sign-key, not both")
        signer = TokenSigner.from_file(Path(args.sign_key), args.issuer, args.kid, args.alg)
    headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
    verdicts: list[FixtureVerdict] = []
    with httpx.Client(timeout=args.timeout, headers=headers) as client:
        for name in names:
            try:
                verdict = _run_fixture(client, base, name, args.language, today, signer)
            except httpx.TransportError as exc:
                raise CliError(
                    f"cannot reach the service at {base} ({type(exc).__name__}: {exc}); "
                    "is it running? (make serve)"
                ) from exc
            verdicts.append(verdict)
            _print_verdict(verdict, sys.stdout)
    failed = [verdict for verdict in verdicts if not verdict.ok]
    held = len(verdicts) - len(failed)
    print(f"\n{held} of {len(verdicts)} fixtures hold their expectations at {base}")
    return EXIT_FAILED if failed else EXIT_OK


def _print_verdict(verdict: FixtureVerdict, out: TextIO) -> None:
    mark = "PASS" if verdict.ok else "FAIL"
    fired = ", ".join(verdict.fired) or "no cards"
    out.write(f"{mark}  {verdict.name}  ({verdict.service})  fired: {fired}\n")
    if verdict.problem:
        out.write(f"      {verdict.problem}\n")
    out.flush()


# --- rules -----------------------------------------------------------------------------------


def _rules_validate(args: argparse.Namespace) -> int:
    from rules.rulesets import DEFAULT_OVERLAYS_PATH, DEFAULT_RULESET_PATH, validate_ruleset_file

    path = Path(args.file) if args.file else DEFAULT_RULESET_PATH
    overlays = Path(args.overlays) if args.overlays else None
    if args.file is None and overlays is None and DEFAULT_OVERLAYS_PATH.exists():
        overlays = DEFAULT_OVERLAYS_PATH
    for candidate in (path, overlays):
        if candidate is not None and not candidate.is_file():
            raise CliError(f"{candidate}: no such file")
    problems = validate_ruleset_file(path, overlays)
    for problem in problems:
        print(problem)
    if problems:
        print(f"\n{len(problems)} problem{'s' if len(problems) != 1 else ''} in {path}")
        return EXIT_FAILED
    checked = f"{path}" + (f" with overlays {overlays}" if overlays else "")
    print(f"{checked}: valid")
    return EXIT_OK


def _rules_docs(args: argparse.Namespace) -> int:
    from app.rule_examples import example_cards
    from rules.rulesets import RuleSetError, load_ruleset
    from rules.rulesets.docs import render_rules_markdown

    for candidate in (args.file, args.overlays):
        if candidate is not None and not Path(candidate).is_file():
            raise CliError(f"{candidate}: no such file")
    try:
        ruleset = load_ruleset(
            Path(args.file) if args.file else None,
            Path(args.overlays) if args.overlays else None,
        )
    except RuleSetError as exc:
        for problem in exc.problems:
            _err(str(problem))
        _err("the rule set is not valid; see `opioid-cds rules validate`")
        return EXIT_FAILED
    # The shipped fixtures are written for the default rule set: only it gets example cards.
    if args.file is None:
        _quiet_service_logs()
    examples = asyncio.run(example_cards()) if args.file is None else None
    text = render_rules_markdown(ruleset, examples)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return EXIT_OK


# --- the parser ------------------------------------------------------------------------------

_EPILOG = """\
exit codes: 0 success; 1 a check failed or an internal error; 2 invalid input or command line,
or the service cannot be reached.

examples:
  opioid-cds evaluate fhir_fixtures/short-acting-oxycodon-tablet.json
  opioid-cds evaluate --format json request.json | jq '.cards[].summary'
  opioid-cds fixtures run --base http://127.0.0.1:8000
  opioid-cds rules validate rules/rulesets/eemland.yaml
  opioid-cds chronic-users export/ --format html -o chronic-users.html
"""


def _installed_version() -> str:
    try:
        return importlib.metadata.version("opioid-cds")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout without installing
        return "(not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opioid-cds",
        description="CDS Hooks service for the regio Eemland opioid prescribing agreements, "
        "and the integrator toolkit: evaluate requests offline, run the example fixtures "
        "against a service, and check rule sets.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"opioid-cds {_installed_version()}")
    parser.add_argument(
        "--traceback", action="store_true", help="show the Python traceback of internal errors"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    migrate_parser = commands.add_parser(
        "migrate",
        help="create or upgrade the database schema (OPIOID_CDS_DATABASE_URL)",
        description="Create or upgrade the database named by OPIOID_CDS_DATABASE_URL "
        "(default: the embedded SQLite file under var/).",
    )
    migrate_parser.set_defaults(handler=_migrate)

    add_report_parsers(commands)

    evaluate = commands.add_parser(
        "evaluate",
        help="evaluate a CDS Hooks request offline and print the cards",
        description="Evaluate a CDS Hooks request offline (a JSON file, or - for standard input) "
        "in this process, with the service's own pipeline and rule set, and print the cards. "
        "No server is started and nothing is fetched over the network: the data the rules "
        "need must be in the request's prefetch (fhirServer is never contacted). The service "
        f"follows from the request's hook ({_HOOK_HELP}). Exit code 0 when the request "
        "was evaluated, 2 when it is invalid (the error says what and where).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluate.add_argument("request", metavar="REQUEST.json", help="the request file, or -")
    evaluate.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="table: readable cards (default); json: the exact response body the HTTP API returns",
    )
    evaluate.add_argument(
        "--service", metavar="ID", help="the service to call (default: from the request's hook)"
    )
    evaluate.add_argument(
        "--language",
        metavar="LANG",
        help="card language as an Accept-Language value, e.g. nl or en "
        "(default: OPIOID_CDS_DEFAULT_LANGUAGE, nl)",
    )
    evaluate.add_argument(
        "--details",
        action="store_true",
        help="with --format table: also print each card's detail, links, suggestions and "
        "override reasons",
    )
    evaluate.set_defaults(handler=_evaluate)

    fixtures = commands.add_parser(
        "fixtures",
        help="list the example requests, or run them against a service",
        description="The FHIR fixtures in fhir_fixtures/: complete CDS Hooks requests, each "
        "with the rule ids that must (not) fire. Dates are shifted so that they are relative "
        "to today.",
    )
    fixture_commands = fixtures.add_subparsers(
        dest="fixtures_command", required=True, metavar="ACTION"
    )
    fixtures_list = fixture_commands.add_parser(
        "list",
        help="list the fixtures: name, service, the rules that must fire, description",
        description="List the fixtures with the service each one calls and the rule ids that "
        "must fire.",
    )
    fixtures_list.add_argument(
        "--format",
        choices=("table", "json"),
        default="table",
        help="table: readable (default); json: a list of {name, service, hook, description, "
        "mustFire, mustNotFire, language}",
    )
    fixtures_list.set_defaults(handler=_fixtures_list)
    fixtures_run = fixture_commands.add_parser(
        "run",
        help="post every fixture to a running service and check its expectations",
        description="Post each fixture to BASE/cds-services/{service} and check that the rule "
        "ids that must fire did (card source.topic.code) and those that must not fire did not. "
        "Exit code 0 when every expectation holds, 1 when one does not, 2 when the service "
        "cannot be reached.",
    )
    fixtures_run.add_argument(
        "--base",
        required=True,
        metavar="URL",
        help="the service's root, e.g. http://127.0.0.1:8000",
    )
    fixtures_run.add_argument(
        "--fixture", action="append", metavar="NAME", help="run only this fixture (repeatable)"
    )
    fixtures_run.add_argument("--language", metavar="LANG", help="Accept-Language to send")
    fixtures_run.add_argument(
        "--token",
        metavar="JWT",
        help="send this fixed 'Authorization: Bearer JWT' with every request (a service that "
        "verifies tokens refuses a token used twice: use --sign-key for those)",
    )
    fixtures_run.add_argument(
        "--sign-key",
        metavar="PEM",
        help="sign a fresh client JWT for every request with this private key (EC or RSA, "
        "unencrypted PEM), aud = the URL called; needs --issuer and --kid",
    )
    fixtures_run.add_argument(
        "--issuer", metavar="ISS", help="the token's iss: your client's entry in the trust file"
    )
    fixtures_run.add_argument("--kid", metavar="KID", help="the key id of --sign-key in your JWKS")
    fixtures_run.add_argument(
        "--alg",
        choices=("ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"),
        help="signature algorithm (default: ES384 for a P-384 key, RS384 for RSA)",
    )
    fixtures_run.add_argument(
        "--timeout", type=float, default=10.0, metavar="SECONDS", help="per request (default 10)"
    )
    fixtures_run.set_defaults(handler=_fixtures_run)

    rules = commands.add_parser(
        "rules",
        help="validate a rule set file or print the rule set as Markdown",
        description="Rule sets are YAML files (default rules/rulesets/eemland.yaml with the "
        "practice overlays in rules/rulesets/practices.yaml).",
    )
    rule_commands = rules.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    validate = rule_commands.add_parser(
        "validate",
        help="check a rule set or overlay file; every problem as FILE:LINE: FIELD: message",
        description="Check a rule set file (with its link and referral directories), or a "
        "practice overlay file against the default rule set. Exit code 0 when valid, 1 with "
        "every problem listed as FILE:LINE: FIELD: message.",
    )
    validate.add_argument("file", nargs="?", metavar="FILE", help="default: the Eemland rule set")
    validate.add_argument(
        "--overlays", metavar="FILE", help="a practice overlay file to check with it"
    )
    validate.set_defaults(handler=_rules_validate)
    docs = rule_commands.add_parser(
        "docs",
        help="print the rule set as Markdown (docs/rules.md is generated with it)",
        description="Print the rule set as Markdown: defaults, an overview, and every rule "
        "with when it fires, its severity, hooks, parameters and source. docs/rules.md is "
        "this output for the default rule set: regenerate it after changing a rule set "
        "(opioid-cds rules docs -o docs/rules.md).",
    )
    docs.add_argument("file", nargs="?", metavar="FILE", help="default: the Eemland rule set")
    docs.add_argument(
        "--overlays",
        metavar="FILE",
        help="practice overlays to include (default with the "
        "default rule set: rules/rulesets/practices.yaml)",
    )
    docs.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of stdout")
    docs.set_defaults(handler=_rules_docs)
    add_chronic_users_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        status: int = args.handler(args)
    except CliError as exc:
        _err(exc.message)
        return exc.exit_code
    except ConfigurationError as exc:  # settings from the environment
        _err(str(exc))
        return EXIT_INPUT
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `opioid-cds fixtures list | head`: the reader has had enough
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:
        if args.traceback:
            raise
        _err(
            f"internal error ({type(exc).__name__}: {exc}); the HTTP API would answer 500. "
            "Run again with --traceback for the details."
        )
        return EXIT_FAILED
    return status


if __name__ == "__main__":
    sys.exit(main())
