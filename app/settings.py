"""Service settings, read from the environment with the prefix `OPIOID_CDS_`.

Production refuses settings that are only safe on a developer's machine: the default audit
secret, the default database (a SQLite file inside the process's own file system, which
replicas cannot share and a container loses) and running without a trust file; what is in
the trust file is checked where the service starts (`app.main`).
`settings_from_environment()` turns every problem into one readable `ConfigurationError`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

from cds_hooks.urls import ServerUrl, normalise
from rules.language import DEFAULT_LANGUAGE, Language

__all__ = [
    "DEFAULT_AUDIT_SECRET",
    "ENV_PREFIX",
    "ConfigurationError",
    "Settings",
    "settings_from_environment",
    "tracing_requested",
]

DEFAULT_AUDIT_SECRET = "development-only-audit-secret"  # noqa: S105 - refused in production
PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "OPIOID_CDS_"
DEFAULT_DATABASE_URL = f"sqlite+aiosqlite:///{PROJECT_ROOT / 'var' / 'opioid-cds.sqlite3'}"


class ConfigurationError(Exception):
    """Settings the service cannot start with; `.problems` lists every one, each a sentence
    naming the environment variable or file to fix."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        listed = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"the service cannot start with these settings:\n{listed}")


def _allowlist_entry(url: str) -> ServerUrl | None:
    """An allowlist entry in normal form; its port may be written `*` (`http://127.0.0.1:*`)
    to allow every port (kept as port 0)."""
    scheme, separator, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    if not netloc.endswith(":*"):
        return normalise(url)
    parsed = normalise(f"{scheme}{separator}{netloc[:-2]}{slash}{path}")
    return replace(parsed, port=_ANY_PORT) if parsed is not None else None


def _within(candidate: ServerUrl, allowed: ServerUrl) -> bool:
    if allowed.port == _ANY_PORT:
        allowed = replace(allowed, port=candidate.port)
    return not allowed.query and candidate.within(allowed)


_ANY_PORT = 0


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    environment: Literal["development", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    database_url: str = DEFAULT_DATABASE_URL
    audit_secret: str = DEFAULT_AUDIT_SECRET
    ruleset_path: Path | None = None
    practice_overlays_path: Path | None = None
    cors_origins: list[str] = Field(default_factory=list)
    default_language: Language = DEFAULT_LANGUAGE
    clinical_timezone: str = "Europe/Amsterdam"
    """Where "today" is for the rules: a server on UTC would otherwise be a day behind for a
    Dutch GP between midnight and 01:00 (02:00 in summer)."""

    # Client authentication (CDS Hooks JWT).
    trusted_clients: Path | None = None
    jwt_algorithms: list[str] = Field(default_factory=lambda: ["ES384", "RS384"])
    public_base_url: str | None = None
    jwks_cache_seconds: int = Field(default=300, ge=0)
    redis_url: str | None = None
    """Where the JWT replay store lives (`redis://host:6379/0`), shared by every replica;
    without it, the database's `seen_jwt_ids` table."""
    redis_key_prefix: str = "opioid-cds:jti:"
    """Keys of the replay store in Redis start with this: deployments sharing a Redis each
    need their own."""

    # Fetching from the client's FHIR server. `fhirServer` comes from the request, so the
    # service only calls servers it may call: URL prefixes listed here, or, with an empty list,
    # any server in development and any https server in production.
    fhir_server_allowlist: list[str] = Field(default_factory=list)
    prefetch_deadline_seconds: float = Field(default=2.0, gt=0, le=30)
    fhir_timeout_seconds: float = Field(default=1.5, gt=0, le=30)
    fhir_connections_per_server: int = Field(default=20, ge=1, le=1000)
    """Requests in flight at once to one FHIR server (origin), from all calls together."""

    # The playground page (/playground) is for integrators; off in production unless asked.
    playground: bool | None = None

    # Reporting (docs/reports.md). Rows older than the retention are deleted on start-up and
    # daily after (and by `opioid-cds report-prune`); the default keeps the one-year
    # evaluation of the agreements and a year of baseline before it.
    report_retention_days: int = Field(default=800, ge=30, le=3660)
    reports_token: str | None = None
    """Bearer token of /reports (not a CDS client JWT). Production refuses the page without
    one; development serves it open when it is not set."""

    # The audit journal (docs/operations.md, "The audit trail"): every answered call's event
    # is written here before the response, then shipped to the database.
    audit_journal_dir: Path | None = None
    """One directory per database: a service ships whatever segments it finds here. Default:
    next to a SQLite file, else var/audit-journal/<host>-<port>-<database>."""
    audit_journal_fsync: bool = False
    """Flush every event to disk before answering: survives a machine crash, not only a
    killed process, for a few milliseconds per call."""
    # Prometheus metrics at /metrics (docs/operations.md, "Metrics"): off unless asked;
    # production refuses them without a bearer token of their own.
    metrics: bool = False
    metrics_token: str | None = Field(default=None, validate_default=True)

    log_level: str = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"
    """`auto`: readable lines when stdout is a terminal, JSON lines otherwise (a container's
    log collector)."""

    @field_validator("clinical_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{value!r} is not a known time zone (e.g. Europe/Amsterdam)") from exc
        return value

    def clinical_today(self, now: datetime | None = None) -> date:
        """Today's date where the GPs are (`now` for tests; default: this moment)."""
        return (now or datetime.now(UTC)).astimezone(ZoneInfo(self.clinical_timezone)).date()

    # Field validators rather than one model validator: pydantic then reports these together
    # with every other invalid field, so an operator meets them all in one start.
    @field_validator("audit_secret")
    @classmethod
    def _own_secret_in_production(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("environment") == "production":
            if value == DEFAULT_AUDIT_SECRET:
                raise ValueError("must be set to a secret of your own in production")
            if len(value) < 16:
                raise ValueError("must be at least 16 characters")
        return value

    @field_validator("database_url")
    @classmethod
    def _shared_database_in_production(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("environment") == "production" and value == DEFAULT_DATABASE_URL:
            raise ValueError(
                "must be set in production: the PostgreSQL database every replica shares, "
                "e.g. postgresql+asyncpg://cds@db:5432/opioid_cds"
            )
        return value

    @field_validator("trusted_clients")
    @classmethod
    def _trust_file_in_production(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if info.data.get("environment") == "production" and value is None:
            raise ValueError(
                "production requires client authentication: set it to a trust file (YAML or "
                "JSON) listing the CDS clients you accept (see docs/authentication.md)"
            )
        return value

    @field_validator("reports_token")
    @classmethod
    def _long_reports_token(cls, value: str | None) -> str | None:
        if value is not None and len(value) < 16:
            raise ValueError("must be at least 16 characters")
        return value

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token_in_production(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and len(value) < 16:
            raise ValueError("must be at least 16 characters")
        if (
            value is None
            and info.data.get("metrics")
            and info.data.get("environment") == ("production")
        ):
            raise ValueError(
                "must be set when OPIOID_CDS_METRICS=true in production: the metrics are "
                "served only with that bearer token"
            )
        return value

    @property
    def audit_journal_directory(self) -> Path:
        if self.audit_journal_dir is not None:
            return self.audit_journal_dir
        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite" and url.database:
            database = Path(url.database)
            return database.with_name(database.name + "-audit-journal")
        where = f"{url.host or 'local'}-{url.port or 'default'}-{url.database or 'memory'}"
        return PROJECT_ROOT / "var" / "audit-journal" / where

    @property
    def playground_enabled(self) -> bool:
        return self.playground if self.playground is not None else self.environment == "development"

    def may_call_fhir_server(self, url: str) -> bool:
        """Compare URLs in normal form (scheme, host, port, path on a `/` boundary, dot
        segments resolved: `cds_hooks.urls`), never strings: `https://fhir.example.nl.evil.com`
        must not pass for `https://fhir.example.nl`, nor `…/ok/../other` for `…/ok`. The FHIR
        client fetches that same normal form."""
        candidate = normalise(url)
        if candidate is None or candidate.query:
            return False
        if self.fhir_server_allowlist:
            return any(
                allowed is not None and _within(candidate, allowed)
                for allowed in map(_allowlist_entry, self.fhir_server_allowlist)
            )
        return self.environment == "development" or candidate.scheme == "https"

    @property
    def allowed_cors_origins(self) -> list[str]:
        """Any origin in development (the CDS Hooks sandbox runs in a browser); none unless
        configured in production."""
        if self.cors_origins:
            return self.cors_origins
        return ["*"] if self.environment == "development" else []


def _problems(error: ValidationError) -> list[str]:
    """One sentence per problem, naming the variable; never the value (it may be a secret)."""
    problems = []
    for item in error.errors(include_input=False, include_url=False):
        message = str(item["msg"]).removeprefix("Value error, ")
        field = ".".join(str(part) for part in item["loc"]).upper()
        problems.append(f"{ENV_PREFIX}{field}: {message}")
    return problems


def settings_from_environment() -> Settings:
    """The settings of this process; `ConfigurationError` lists everything wrong with them."""
    try:
        return Settings()
    except ValidationError as error:
        raise ConfigurationError(_problems(error)) from None


def tracing_requested(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the standard OpenTelemetry variables ask for traces (`app.tracing`): an OTLP
    endpoint or a traces exporter other than `none`; `OTEL_SDK_DISABLED=true` wins."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter == "none":
        return False
    endpoints = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    return bool(exporter) or any(environ.get(name, "").strip() for name in endpoints)
