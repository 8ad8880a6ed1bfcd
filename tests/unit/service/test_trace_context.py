"""Pure parts of service.tracing: the trace context through a stored traceparent and AMQP
headers, and the redaction of personal data from span attributes. An SDK provider of
its own (not the global one), with an in-memory exporter."""

from __future__ import annotations

import pytest
from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from pydantic import ValidationError

from service import tracing
from service.settings import TracingSettings
from service.tracing import (
    RedactingProcessor,
    context_from_headers,
    current_traceparent,
    links_from_headers,
    redact_url,
    setup_tracing,
    use_traceparent,
)


@pytest.fixture
def provider() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(RedactingProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


def test_a_stored_traceparent_puts_the_publish_in_the_writers_trace(
    provider: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    tracer = provider[0].get_tracer("test")
    with tracer.start_as_current_span("POST /v1/documents") as request:
        stored = current_traceparent()
    assert stored is not None
    assert current_traceparent() is None  # outside any span: nothing to store
    with use_traceparent(stored), tracer.start_as_current_span("publish") as publish:
        headers: dict[str, str] = {}
        propagate.inject(headers)
    assert publish.get_span_context().trace_id == request.get_span_context().trace_id
    assert publish.parent is not None
    assert publish.parent.span_id == request.get_span_context().span_id
    # The consumer side: the context comes back out of the message headers (bytes too).
    received = context_from_headers({k: v.encode() for k, v in headers.items()})
    span_context = trace.get_current_span(received).get_span_context()
    assert span_context.trace_id == request.get_span_context().trace_id
    assert span_context.span_id == publish.get_span_context().span_id


def test_a_batch_links_every_traced_message_and_skips_the_others(
    provider: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    tracer = provider[0].get_tracer("test")
    carriers = []
    for name in ("a", "b"):
        with tracer.start_as_current_span(name):
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            carriers.append(carrier)
    links = links_from_headers([carriers[0], None, {"x-attempts": "1"}, carriers[1]])
    assert len(links) == 2
    assert links[0].context.trace_id != links[1].context.trace_id


def test_use_traceparent_without_one_leaves_the_context_alone() -> None:
    with use_traceparent(None):
        assert current_traceparent() is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8080/v1/search?q=ann%40example.com", "http://127.0.0.1:8080/v1/search"),
        ("/v1/tenants/t1/subjects/ann@example.com", "/v1/tenants/t1/subjects/{subject}"),
        ("/v1/tenants/t1/subjects/s-42?dry_run=1", "/v1/tenants/t1/subjects/{subject}"),
        ("/v1/documents/5d0c", "/v1/documents/5d0c"),
    ],
    ids=["query-string", "subject-path", "subject-and-query", "untouched"],
)
def test_urls_lose_query_strings_and_subject_ids(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_span_attributes_are_redacted_before_export(
    provider: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    tracer_provider, exporter = provider
    attributes = {
        "http.target": "/v1/search?q=ann@example.com",
        "url.query": "q=ann@example.com",
        "http.url": "http://h/v1/tenants/t/subjects/ann@example.com",
        "http.method": "GET",
    }
    with tracer_provider.get_tracer("test").start_as_current_span("GET", attributes=attributes):
        pass
    (span,) = exporter.get_finished_spans()
    exported = dict(span.attributes or {})
    assert "ann@example.com" not in repr(exported)
    assert exported["http.target"] == "/v1/search"
    assert exported["http.url"] == "http://h/v1/tenants/t/subjects/{subject}"
    assert exported["http.method"] == "GET"


def test_tracing_is_off_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SERVICE_TRACING_EXPORTER", raising=False)
    settings = TracingSettings()
    assert settings.exporter == "none"
    assert setup_tracing(settings, "gameday-test") is False
    assert not tracing.enabled()  # no provider, no instrumentation, plain transport


def test_an_unknown_exporter_is_refused_with_the_valid_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SERVICE_TRACING_EXPORTER", "jaeger")
    with pytest.raises(ValidationError, match="console"):
        TracingSettings()
