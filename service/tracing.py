"""OpenTelemetry tracing of the service and the indexer, off unless an exporter is set.

    setup_tracing(settings.tracing, "gameday-service")   # once per process
    instrument_app(app)                                  # the server span of each request
    traceparent = current_traceparent()                  # stored with an outbox row
    with use_traceparent(traceparent): ...               # the relay publishes in that trace

Spans: each request (FastAPI), each PostgreSQL statement (asyncpg, parameterised: no
values), each Redis command (arguments replaced by ``?``), each OpenSearch request
(:class:`TracedTransport`, method and path only), AMQP publish and consume (aio-pika,
which carries the context in the message headers). :class:`RedactingProcessor` drops
query strings and subject ids from URLs before any exporter sees a span.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Iterator, Mapping
from typing import IO, Any

from opensearchpy import AsyncTransport
from opentelemetry import context, propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import Link, SpanKind

from service.settings import TracingSettings

TRACER_NAME = "service"
_URL_KEYS = ("http.url", "http.target", "url.full", "url.path", "url.query")
_SUBJECT = re.compile(r"(/subjects/)[^/?#]+")
_provider: TracerProvider | None = None
_console_out: IO[str] | None = None


def enabled() -> bool:
    return _provider is not None


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


def redact_url(value: str) -> str:
    """``/v1/search?q=ann@example.com`` -> ``/v1/search``; subject ids become ``{subject}``."""
    path = value.split("?", 1)[0]
    return _SUBJECT.sub(r"\1{subject}", path)


def redact_span(span: Any, scope: Any = None) -> None:
    """Rewrites the URL attributes of ``span`` in place; also the ASGI server request hook
    (the ASGI middleware sets its attributes again after the span started)."""
    attributes = getattr(span, "attributes", None) or {}
    for key in _URL_KEYS:
        value = attributes.get(key)
        if isinstance(value, str):
            span.set_attribute(key, "redacted" if key == "url.query" else redact_url(value))


class RedactingProcessor(SpanProcessor):
    """Personal data stays out of spans: search text and filters travel in the query string,
    subject ids in the erasure path."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        redact_span(span)

    def on_end(self, span: ReadableSpan) -> None:
        return None


def _exporter(settings: TracingSettings) -> tuple[SpanExporter, bool]:
    """The exporter and whether spans go out one by one (a file other processes append to)."""
    global _console_out
    if settings.exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=settings.otlp_endpoint), False
    if settings.console_file is not None:
        # Line buffered, append: one write per span, so workers' lines do not interleave.
        _console_out = open(settings.console_file, "a", buffering=1, encoding="utf-8")  # noqa: SIM115
        out: IO[str] = _console_out
    else:
        out = sys.stdout
    exporter = ConsoleSpanExporter(
        out=out, formatter=lambda span: span.to_json(indent=None) + os.linesep
    )
    return exporter, True


def setup_tracing(settings: TracingSettings, service_name: str) -> bool:
    """Installs the provider and the instrumentations; ``False`` (nothing done) when off."""
    global _provider
    if settings.exporter == "none":
        return False
    if _provider is not None:
        return True
    provider = TracerProvider(
        resource=Resource.create({"service.name": service_name}),
        sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)),
    )
    provider.add_span_processor(RedactingProcessor())
    exporter, one_by_one = _exporter(settings)
    provider.add_span_processor(
        SimpleSpanProcessor(exporter) if one_by_one else BatchSpanProcessor(exporter)
    )
    trace.set_tracer_provider(provider)
    _provider = provider

    from opentelemetry.instrumentation.aio_pika import AioPikaInstrumentor
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    asyncpg_instrumentor = AsyncPGInstrumentor(capture_parameters=False)  # type: ignore[no-untyped-call]
    asyncpg_instrumentor.instrument(tracer_provider=provider)  # statements only, no values
    RedisInstrumentor().instrument(tracer_provider=provider)
    AioPikaInstrumentor().instrument(tracer_provider=provider)
    return True


def instrument_app(app: Any) -> None:
    """Server spans named by route template; health probes and scrapes are not traced."""
    if _provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=_provider,
        excluded_urls="/metrics,/health/.*,/v1/health.*",
        exclude_spans=["receive", "send"],
        server_request_hook=redact_span,
    )


def shutdown_tracing() -> None:
    """Flushes what is buffered; called at the end of the lifespan and of the indexer."""
    global _console_out
    if _provider is not None:
        _provider.force_flush(timeout_millis=2000)
    if _console_out is not None:
        _console_out.flush()


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span, ``None`` outside a sampled trace."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


def context_from_headers(headers: Mapping[str, Any] | None) -> Context:
    carrier = {
        k: v.decode() if isinstance(v, bytes) else str(v) for k, v in (headers or {}).items()
    }
    return propagate.extract(carrier)


@contextlib.contextmanager
def use_traceparent(traceparent: str | None) -> Iterator[None]:
    """Runs the block in the trace of ``traceparent`` (a stored one); as is when ``None``."""
    if not traceparent:
        yield
        return
    # From an empty context: the relay's own polling is not traced, its publishes are.
    token = context.attach(propagate.extract({"traceparent": traceparent}, context=Context()))
    try:
        yield
    finally:
        context.detach(token)


def links_from_headers(headers_list: list[Mapping[str, Any] | None]) -> list[Link]:
    """One link per message that carried a trace: a batch span joins every write's trace."""
    links: list[Link] = []
    for headers in headers_list:
        span_context = trace.get_current_span(context_from_headers(headers)).get_span_context()
        if span_context.is_valid:
            links.append(Link(span_context))
    return links


class TracedTransport(AsyncTransport):
    """opensearch-py has no OpenTelemetry instrumentation: one client span per request,
    method and path only (bodies hold documents and search text)."""

    async def perform_request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        with tracer().start_as_current_span(
            f"opensearch {method}",
            kind=SpanKind.CLIENT,
            attributes={"db.system": "opensearch", "http.method": method, "url.path": url},
        ):
            return await super().perform_request(method, url, *args, **kwargs)
