"""Optional OpenTelemetry traces (docs/operations.md, "Traces"): the service's requests and
its calls to the client's FHIR server, sent to a collector.

Imported only when the standard variables ask for traces (`app.settings.tracing_requested`),
as it needs the `otel` extra (`pip install 'opioid-cds[otel]'`). The SDK reads the rest of
`OTEL_*` itself (service name, resource attributes, sampler, batch sizes, headers).

Spans leave the process only through `ScrubbingExporter`: the URL of a FHIR call names the
patient (`Patient/<id>`, `?patient=<id>`), so a client span keeps the server's origin and the
resource types of its path, nothing else; query strings, captured headers and exception
messages (which may quote request data) never leave. Exception types do.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
from fastapi import FastAPI
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import SpanKind, Status

from cds_hooks.contexts import FHIR_RESOURCE_TYPES

__all__ = ["ScrubbingExporter", "Tracing", "scrubbed_url"]

_URL_KEYS = frozenset({"url.full", "http.url", "http.target", "url.path"})
_DROPPED_KEYS = frozenset({"url.query"})
_HEADER_PREFIXES = ("http.request.header.", "http.response.header.")
_KEPT_EXCEPTION_KEYS = frozenset({"exception.type", "exception.escaped"})


def scrubbed_url(url: str, *, fhir_call: bool) -> str:
    """A URL without what could name a patient: never its query; for a call to a FHIR server
    only the origin and the path's resource types (`https://fhir.example/*/Patient/*`)."""
    parts = urlsplit(url)
    path = parts.path
    if fhir_call:
        segments = path.split("/")
        path = "/".join(
            segment if not segment or segment in FHIR_RESOURCE_TYPES else "*"
            for segment in segments
        )
    origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme else ""
    return origin + path


class Tracing:
    """A tracer provider for one app; `exporter` for tests (default: from `OTEL_*`)."""

    def __init__(self, exporter: SpanExporter | None = None, *, batch: bool = True) -> None:
        resource = Resource.create({"service.name": "opioid-cds"}).merge(Resource.create())
        self.provider: TracerProvider = TracerProvider(resource=resource)
        sink = ScrubbingExporter(exporter if exporter is not None else _configured_exporter())
        processor = BatchSpanProcessor(sink) if batch else SimpleSpanProcessor(sink)
        self.provider.add_span_processor(processor)

    def instrument_app(self, app: FastAPI) -> None:
        # No spans for every ASGI receive/send message: one span per request is the story.
        FastAPIInstrumentor.instrument_app(
            app, tracer_provider=self.provider, exclude_spans=["receive", "send"]
        )

    def instrument_client(self, client: httpx.AsyncClient) -> None:
        HTTPXClientInstrumentor.instrument_client(client, tracer_provider=self.provider)

    def shutdown(self) -> None:
        """Send what is buffered, then stop."""
        self.provider.shutdown()


def _configured_exporter() -> SpanExporter:
    name = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() or "otlp"
    if name == "console":
        return ConsoleSpanExporter()
    protocol = os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf").strip()
    if name != "otlp" or protocol != "http/protobuf":
        raise ValueError(
            f"OTEL_TRACES_EXPORTER={name[:20]}, OTEL_EXPORTER_OTLP_PROTOCOL={protocol[:20]}: "
            "this service sends traces as otlp over http/protobuf, or to the console"
        )
    return OTLPSpanExporter()  # endpoint, headers, timeout: from OTEL_EXPORTER_OTLP_*


def _scrubbed_attributes(attributes: Mapping[str, Any], *, fhir_call: bool) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for key, value in attributes.items():
        if key in _DROPPED_KEYS or key.startswith(_HEADER_PREFIXES):
            continue
        if key in _URL_KEYS and isinstance(value, str):
            value = scrubbed_url(value, fhir_call=fhir_call)
        kept[key] = value
    return kept


class ScrubbingExporter(SpanExporter):
    """Passes spans on to `inner` without patient data (see the module docstring)."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.inner.export([_scrubbed(span) for span in spans])

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.inner.force_flush(timeout_millis)


def _scrubbed(span: ReadableSpan) -> ReadableSpan:
    # Outgoing calls from this service go to the client's FHIR server (and JWK Sets).
    fhir_call = span.kind == SpanKind.CLIENT
    events = [
        Event(
            event.name,
            {key: v for key, v in (event.attributes or {}).items() if _event_key_kept(key)},
            event.timestamp,
        )
        for event in span.events
    ]
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=_scrubbed_attributes(span.attributes or {}, fhir_call=fhir_call),
        events=events,
        links=span.links,
        kind=span.kind,
        status=Status(span.status.status_code),  # its description may quote an exception
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def _event_key_kept(key: str) -> bool:
    return not key.startswith("exception.") or key in _KEPT_EXCEPTION_KEYS
