"""The service's Prometheus metrics (docs/operations.md, "Metrics"), served at `/metrics`.

The layers below know nothing of Prometheus: the pipeline hands back the cards and rule ids,
prefetch resolution calls a `FetchObserver`, authentication raises `AuthenticationFailed` with
a reason code, and the audit writer is read when Prometheus scrapes. Every label has a bounded
set of values (route templates, the service ids of `app.services`, rule ids of the rule set,
prefetch keys, reason codes, status codes): never anything a request chose freely.

Each app has a registry of its own (tests start many apps in one process). Values live in
the process, so a deployment with metrics runs one uvicorn worker per container (see the
docs); a scrape would otherwise see one worker at random.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from app.audit import AuditWriter
from app.evaluation import Evaluation
from app.services import SERVICES
from cds_hooks.errors import AUTH_FAILURE_REASONS, AuthFailureReason
from cds_hooks.prefetch import FetchObserver

__all__ = ["ServiceMetrics"]

# Hook calls take milliseconds; a call that fetches from fhirServer up to the 2 s deadline.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_UNKNOWN_SERVICE = "unknown"


class _AuditCollector(Collector):
    """The audit writer's queue and losses, read at scrape time (nothing on the hot path)."""

    def __init__(self, audit: Callable[[], AuditWriter | None]) -> None:
        self._audit = audit

    def collect(self) -> Iterable[Metric]:
        audit = self._audit()
        depth = GaugeMetricFamily(
            "opioid_cds_audit_queue_depth", "Audit events of answered calls not yet in the database"
        )
        dropped = CounterMetricFamily(
            "opioid_cds_audit_events_dropped",
            "Audit events lost: the queue was full, or the event could not be stored",
        )
        if audit is not None:
            depth.add_metric([], audit.backlog)
            dropped.add_metric([], audit.dropped)
        return [depth, dropped]


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._audit: AuditWriter | None = None
        registry = self.registry
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
        registry.register(_AuditCollector(lambda: self._audit))
        self.request_duration = Histogram(
            "opioid_cds_request_duration_seconds",
            "Time from a request's arrival to the end of its response",
            ["route", "service", "status"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.cards = Counter(
            "opioid_cds_cards",
            "Cards returned, per service and the rule that made them",
            ["service", "rule"],
            registry=registry,
        )
        self.rule_failures = Counter(
            "opioid_cds_rule_failures",
            "Rules that raised (their card lost, named on the incomplete-check card)",
            ["service", "rule"],
            registry=registry,
        )
        self.prefetch_fetches = Counter(
            "opioid_cds_prefetch_fetches",
            "Fetches from the client's fhirServer, per prefetch key (Medication: reads of "
            "medicationReferences)",
            ["key"],
            registry=registry,
        )
        self.prefetch_failures = Counter(
            "opioid_cds_prefetch_fetch_failures",
            "Fetches from fhirServer that failed or missed the deadline, per prefetch key",
            ["key"],
            registry=registry,
        )
        self.jwt_rejections = Counter(
            "opioid_cds_jwt_rejections",
            "Requests refused with 401, per reason",
            ["reason"],
            registry=registry,
        )
        for reason in AUTH_FAILURE_REASONS:  # every reason from 0, so a first one shows as a rise
            self.jwt_rejections.labels(reason)

    def watch_audit(self, audit: AuditWriter | None) -> None:
        """The audit writer to read at scrape time (None when the app stops)."""
        self._audit = audit

    def observe_request(
        self, route: str, service_id: str | None, status: int, seconds: float
    ) -> None:
        service = "" if service_id is None else _known_service(service_id)
        self.request_duration.labels(route, service, str(status)).observe(seconds)

    def observe_evaluation(self, service_id: str, evaluation: Evaluation) -> None:
        for rule_id in evaluation.fired_rule_ids:
            self.cards.labels(service_id, rule_id).inc()
        for rule_id, why in evaluation.skipped_rule_ids.items():
            if why == "error":
                self.rule_failures.labels(service_id, rule_id).inc()

    def fetch_observer(self) -> FetchObserver:
        def observe(key: str, failed: bool) -> None:
            self.prefetch_fetches.labels(key).inc()
            if failed:
                self.prefetch_failures.labels(key).inc()

        return observe

    def jwt_rejected(self, reason: AuthFailureReason) -> None:
        self.jwt_rejections.labels(reason).inc()


def _known_service(service_id: str) -> str:
    # The path's id is the client's to choose: only the services that exist become labels.
    return service_id if service_id in SERVICES else _UNKNOWN_SERVICE
