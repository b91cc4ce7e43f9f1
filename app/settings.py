"""Service settings, read from the environment with the prefix `OPIOID_CDS_`.

Production refuses settings that are only safe on a developer's machine: the default audit
secret, and (checked when the JWT verifier is built) running without trusted clients.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cds_hooks.urls import ServerUrl, normalise
from rules.language import DEFAULT_LANGUAGE, Language

__all__ = ["DEFAULT_AUDIT_SECRET", "Settings"]

DEFAULT_AUDIT_SECRET = "development-only-audit-secret"  # noqa: S105 - refused in production
PROJECT_ROOT = Path(__file__).resolve().parent.parent


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
    model_config = SettingsConfigDict(env_prefix="OPIOID_CDS_", extra="ignore")

    environment: Literal["development", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    database_url: str = f"sqlite+aiosqlite:///{PROJECT_ROOT / 'var' / 'opioid-cds.sqlite3'}"
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

    log_level: str = "INFO"

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

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.environment == "production" and self.audit_secret == DEFAULT_AUDIT_SECRET:
            raise ValueError(
                "OPIOID_CDS_AUDIT_SECRET must be set to a secret of your own in production"
            )
        if self.environment == "production" and len(self.audit_secret) < 16:
            raise ValueError("OPIOID_CDS_AUDIT_SECRET must be at least 16 characters")
        if self.reports_token is not None and len(self.reports_token) < 16:
            raise ValueError("OPIOID_CDS_REPORTS_TOKEN must be at least 16 characters")
        return self

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
