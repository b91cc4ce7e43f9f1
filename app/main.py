"""The FastAPI application factory.

`create_app(settings)` builds a service whose resources (database engine, HTTP client, rule
engine) are opened in the lifespan and closed on shutdown. Uvicorn runs it with
`--factory app.main:create_app`: then the settings come from the environment, and settings,
trust file and rule set are checked together before anything starts, so a misconfigured
deployment prints one list of what to fix and exits with status 2, without a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import httpx
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.audit import AuditWriter
from app.audit_journal import AuditJournal
from app.db import create_engine_for
from app.errors import install_error_handlers
from app.evaluation import Evaluator, load_evaluator
from app.logging import configure_logging, get_logger
from app.metrics import ServiceMetrics
from app.middleware import HeaderSizeLimit, RequestMiddleware
from app.openapi import install_openapi
from app.replay_store import build_replay_store
from app.reporting.prune import prune_forever
from app.reporting.records import ReportRecorder
from app.routes import cds, docs, health, metrics, playground, reports
from app.security import build_jwt_verifier, load_trusted_clients
from app.settings import (
    ConfigurationError,
    Settings,
    settings_from_environment,
    tracing_requested,
)
from app.state import AppState
from app.warmup import warm_up
from cds_hooks.auth import TrustConfig
from cds_hooks.bulkheads import OriginLimits
from cds_hooks.models import Feedback, FeedbackBatch, HookRequest
from rules.native import compiled_modules
from rules.rulesets import RuleSetError

if TYPE_CHECKING:
    from app.tracing import Tracing

__all__ = ["create_app"]

log = get_logger(__name__)


def _checked_start(settings: Settings) -> tuple[TrustConfig, Evaluator]:
    """The trust file and the rule set, or one `ConfigurationError` naming every problem."""
    problems: list[str] = []
    trust = TrustConfig()
    evaluator = None
    try:
        trust = load_trusted_clients(settings)
    except ValueError as error:
        problems.append(str(error))
    try:
        evaluator = load_evaluator(settings)
    except RuleSetError as error:
        problems.extend(f"rule set: {problem}" for problem in error.problems)
    if problems or evaluator is None:
        raise ConfigurationError(problems)
    return trust, evaluator


def create_app(settings: Settings | None = None, tracing: Tracing | None = None) -> FastAPI:
    """`tracing`: where spans go (tests); by default as the `OTEL_*` variables say."""
    from_environment = settings is None
    try:
        settings = settings or settings_from_environment()
        configure_logging(settings.log_level, settings.log_format)
        trust, evaluator = _checked_start(settings)
        tracing = tracing or _tracing()
    except ConfigurationError as error:
        if not from_environment:
            raise
        print(f"opioid-cds: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    service_metrics = _service_metrics(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine_for(settings.database_url)
        session_factory = async_sessionmaker(engine, expire_on_commit=False)
        # No limit on the client's connections as a whole: each FHIR server has its own
        # (`fhir_limits`), so one that hangs cannot use up those of the others.
        unpooled = httpx.Limits(max_connections=None, max_keepalive_connections=100)
        async with httpx.AsyncClient(follow_redirects=False, limits=unpooled) as http_client:
            if tracing is not None:
                tracing.instrument_client(http_client)
            app.state.settings = settings
            replay_store = build_replay_store(settings)
            app.state.jwt_verifier = build_jwt_verifier(settings, replay_store, http_client, trust)
            audit = AuditWriter(
                session_factory,
                AuditJournal(settings.audit_journal_directory, fsync=settings.audit_journal_fsync),
            )
            app.state.cds = AppState(
                settings=settings,
                engine=engine,
                session_factory=session_factory,
                http_client=http_client,
                fhir_limits=OriginLimits(settings.fhir_connections_per_server),
                evaluator=evaluator,
                audit=audit,
                recorder=ReportRecorder(evaluator.ruleset, settings.audit_secret),
                replay_store=replay_store,
                metrics=service_metrics,
            )
            if service_metrics is not None:
                service_metrics.watch_audit(audit)
            fired = await warm_up(evaluator)
            # What lives as long as the process (rule set, catalogue, validators, modules) is
            # set aside from the collector, so a collection during a call walks only that
            # call's objects: it keeps collections out of the latency tail.
            gc.collect()
            gc.freeze()
            log.info("warmed up", rule_ids=fired, compiled=compiled_modules())
            app.state.cds.audit.start()
            # Retention of the report rows: now and daily, in the background (a slow delete
            # must not hold up start-up, a failing one must not stop it).
            pruning = asyncio.create_task(
                prune_forever(engine, settings.report_retention_days), name="report-pruning"
            )
            try:
                yield
            finally:
                pruning.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pruning
                await app.state.cds.audit.stop()
                await replay_store.aclose()
                await engine.dispose()
                if tracing is not None:
                    tracing.shutdown()
                gc.unfreeze()  # for a process that goes on (tests start many apps)

    app = FastAPI(
        title="Opioid CDS (regio Eemland)",
        version="0.1.0",
        summary="CDS Hooks 2.0 service for the regional opioid prescribing agreements",
        lifespan=lifespan,
        # /docs is app.routes.docs (Swagger UI from the package, no CDN); no ReDoc (a CDN).
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    install_openapi(app, request_models=[HookRequest, FeedbackBatch, Feedback])
    app.include_router(cds.router)
    app.include_router(health.router)
    app.include_router(docs.router)
    if settings.playground_enabled:
        app.include_router(playground.router)
    app.include_router(reports.router)
    if service_metrics is not None:
        app.include_router(metrics.router)
    if settings.environment == "production" and settings.reports_token is None:
        log.warning("OPIOID_CDS_REPORTS_TOKEN is not set: /reports answers 401 to everyone")
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.allowed_cors_origins,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type"],
        # A page on a public origin (the hosted CDS Hooks sandbox) calling a service on
        # localhost or a private network: Chrome's preflight asks with
        # `Access-Control-Request-Private-Network: true`, which Starlette refuses (400) unless
        # allowed. Only for origins CORS allows anyway.
        allow_private_network=True,
    )
    app.add_middleware(HeaderSizeLimit)
    app.add_middleware(RequestMiddleware, metrics=service_metrics)
    if tracing is not None:
        tracing.instrument_app(app)
    return app


def _service_metrics(settings: Settings) -> ServiceMetrics | None:
    if not settings.metrics:
        return None
    workers = os.environ.get("WEB_CONCURRENCY", "1")
    if workers.strip() not in ("", "1"):
        # Metrics live in each worker; a scrape reaches one of them (docs/operations.md).
        log.warning(
            "OPIOID_CDS_METRICS is on with WEB_CONCURRENCY workers: each scrape sees one "
            "worker's counts; run one worker per container",
            workers=workers[:10],
        )
    return ServiceMetrics()


def _tracing() -> Tracing | None:
    """Traces when `OTEL_*` asks for them; a `ConfigurationError` when they cannot be had."""
    if not tracing_requested():
        return None
    try:
        from app.tracing import Tracing
    except ImportError:  # the optional dependency is missing
        raise ConfigurationError(
            [
                "OTEL_*: traces are asked for but OpenTelemetry is not installed: pip install "
                "'opioid-cds[otel]', or unset OTEL_TRACES_EXPORTER and OTEL_EXPORTER_OTLP_ENDPOINT"
            ]
        ) from None
    try:
        tracing = Tracing()
    except ValueError as error:
        raise ConfigurationError([str(error)]) from None
    log.info("OpenTelemetry traces on")
    return tracing
