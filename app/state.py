"""What the service holds for its lifetime: settings, database, HTTP client, rule engine,
the audit writer, what builds the report rows, the JWT replay store and the metrics."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.audit import AuditWriter
from app.evaluation import Evaluator
from app.logging import get_logger
from app.metrics import ServiceMetrics
from app.replay_store import SharedReplayStore
from app.reporting.records import ReportRecorder
from app.settings import Settings
from cds_hooks.bulkheads import OriginLimits
from cds_hooks.fhir_client import FhirClient
from cds_hooks.models import HookRequest

__all__ = ["AppState"]

log = get_logger(__name__)


@dataclass
class AppState:
    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    http_client: httpx.AsyncClient
    fhir_limits: OriginLimits
    evaluator: Evaluator
    audit: AuditWriter
    recorder: ReportRecorder
    replay_store: SharedReplayStore
    metrics: ServiceMetrics | None = None
    """The Prometheus metrics, when `OPIOID_CDS_METRICS` is on."""

    def fhir_client_for(self, request: HookRequest) -> FhirClient | None:
        """A client for the caller's FHIR server with its short-lived token, when it sent one
        that this deployment may call."""
        if not request.fhir_server:
            return None
        if not self.settings.may_call_fhir_server(request.fhir_server):
            # Treated as if no server was given: required data gives 412, the rest degrades.
            log.warning("fhirServer not allowed by OPIOID_CDS_FHIR_SERVER_ALLOWLIST")
            return None
        token = request.fhir_authorization.access_token if request.fhir_authorization else None
        return FhirClient(
            request.fhir_server,
            token,
            http=self.http_client,
            limits=self.fhir_limits,
            timeout_seconds=self.settings.fhir_timeout_seconds,
        )
