"""OpenTelemetry traces: on only when `OTEL_*` asks, and no patient data in what is exported
(captured with the SDK's in-memory exporter behind the service's scrubbing exporter)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from app.db import migrate
from app.main import create_app
from app.settings import Settings, tracing_requested
from app.tracing import ScrubbingExporter, Tracing
from tests.sample_requests import hook_request

PATIENT = "pat-secret-4711"


@pytest.fixture
def spans() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def traced(sqlite_url: str, spans: InMemorySpanExporter) -> Iterator[TestClient]:
    migrate(sqlite_url)
    settings = Settings(database_url=sqlite_url, trusted_clients=None)
    app = create_app(settings, tracing=Tracing(spans, batch=False))
    with TestClient(app) as client:
        yield client


def _everything(span: ReadableSpan) -> str:
    text: str = span.to_json()
    return text


def test_a_hook_call_with_fhir_fetches_is_traced_without_patient_data(
    traced: TestClient, spans: InMemorySpanExporter, fhir_server: str
) -> None:
    request = hook_request("order-sign", patientId=PATIENT)
    request["fhirServer"] = fhir_server
    del request["prefetch"]["patient"]  # Patient/<id>: the id in the path

    response = traced.post(f"/cds-services/opioid-order-sign?patient={PATIENT}", json=request)

    assert response.status_code == 200, response.text
    finished = spans.get_finished_spans()
    server = [span for span in finished if span.kind == SpanKind.SERVER]
    client = [span for span in finished if span.kind == SpanKind.CLIENT]
    assert len(server) == 1
    assert (server[0].attributes or {}).get("http.route") == "/cds-services/{service_id}"
    # Every key the request did not prefetch was fetched: the patient and the history.
    assert len(client) >= 7
    urls = {
        str(value)
        for span in client
        for key, value in (span.attributes or {}).items()
        if key in ("url.full", "http.url")
    }
    origin = fhir_server.removesuffix("/fhir")
    assert f"{origin}/*/Patient/*" in urls
    assert f"{origin}/*/MedicationDispense" in urls
    for span in finished:
        assert PATIENT not in _everything(span), span.name


def test_exception_messages_and_queries_never_leave() -> None:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(ScrubbingExporter(spans)))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("GET", kind=SpanKind.CLIENT) as span:
        span.set_attribute("url.full", f"https://fhir.example/r4/Patient/{PATIENT}?x=1")
        span.set_attribute("url.query", f"patient={PATIENT}")
        span.set_attribute("http.request.header.authorization", "Bearer secret-token")
        span.record_exception(KeyError(PATIENT))
        span.set_status(Status(StatusCode.ERROR, f"KeyError: {PATIENT}"))

    (exported,) = spans.get_finished_spans()
    assert PATIENT not in _everything(exported)
    assert "secret-token" not in _everything(exported)
    assert (exported.attributes or {})["url.full"] == "https://fhir.example/*/Patient/*"
    assert exported.status.status_code == StatusCode.ERROR
    (event,) = exported.events
    assert (event.attributes or {})["exception.type"] == "KeyError"


@pytest.mark.parametrize(
    ("environ", "wanted"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "opioid-cds"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, False),
    ],
)
def test_traces_are_on_only_when_otel_variables_ask(environ: dict[str, str], wanted: bool) -> None:
    assert tracing_requested(environ) is wanted


def test_traces_it_cannot_send_stop_the_start_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector.invalid:4317")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")

    with pytest.raises(SystemExit) as stopped:
        create_app()

    assert stopped.value.code == 2
    message = capsys.readouterr().err
    assert "OTEL_EXPORTER_OTLP_PROTOCOL=grpc" in message
    assert "http/protobuf" in message
    assert "Traceback" not in message
