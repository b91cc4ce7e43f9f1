"""What the service holds for its lifetime: settings, database, HTTP client, rule engine."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.audit import AuditWriter
from app.evaluation import Evaluator
from app.settings import Settings
from cds_hooks.fhir_client import FhirClient
from cds_hooks.models import HookRequest

__all__ = ["AppState"]


@dataclass
class AppState:
    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    http_client: httpx.AsyncClient
    evaluator: Evaluator
    audit: AuditWriter

    def fhir_client_for(self, request: HookRequest) -> FhirClient | None:
        """A client for the caller's FHIR server, with its short-lived token, if it sent one."""
        if not request.fhir_server:
            return None
        token = request.fhir_authorization.access_token if request.fhir_authorization else None
        return FhirClient(
            request.fhir_server,
            token,
            http=self.http_client,
            timeout_seconds=self.settings.fhir_timeout_seconds,
        )
