"""Prometheus metrics of the service and the indexer, served at ``/metrics``.

Several uvicorn workers: prometheus-client's multiprocess mode. When
``PROMETHEUS_MULTIPROC_DIR`` is set (the stack's ``service`` component sets it and empties
the folder before starting), each process writes its values to files there and
``/metrics`` merges them, so any worker answers for all of them (and for the indexer when it
shares the folder). Counters and histograms are summed; gauges say how they merge below.
Without the variable the default in-process registry is used (one worker).

    render() -> (body, content_type)
"""

from __future__ import annotations

import functools
import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from service.resilience import BreakerState

LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.8, 1.0, 2.5, 5.0, 10.0)

http_requests = Counter(
    "service_http_requests_total",
    "HTTP requests by route template, method and status class (2xx, 4xx, 5xx).",
    ["route", "method", "status_class"],
)
http_latency = Histogram(
    "service_http_request_duration_seconds",
    "HTTP request latency by route template and status class.",
    ["route", "method", "status_class"],
    buckets=LATENCY_BUCKETS_S,
)
dependency_latency = Histogram(
    "service_dependency_call_duration_seconds",
    "Latency of each call (attempt) to a dependency, by outcome (ok, error, timeout).",
    ["dependency", "outcome"],
    buckets=LATENCY_BUCKETS_S,
)
dependency_errors = Counter(
    "service_dependency_errors_total",
    "Failed calls to a dependency (timeouts included).",
    ["dependency"],
)
dependency_timeouts = Counter(
    "service_dependency_timeouts_total", "Calls to a dependency that timed out.", ["dependency"]
)
dependency_retries = Counter(
    "service_dependency_retries_total", "Retries of a call to a dependency.", ["dependency"]
)
dependency_rejected = Counter(
    "service_dependency_rejected_total",
    "Calls refused without trying because the dependency's breaker was open.",
    ["dependency"],
)
breaker_state = Gauge(
    "service_breaker_state",
    "Circuit breaker state: 0 closed, 1 half-open, 2 open (the worst over live workers).",
    ["dependency"],
    multiprocess_mode="livemax",
)
breaker_transitions = Counter(
    "service_breaker_transitions_total",
    "Circuit breaker state changes.",
    ["dependency", "from", "to"],
)
cache_lookups = Counter(
    "service_cache_lookups_total",
    "Search cache lookups by tier (l1, l2, stale) and result (hit, miss).",
    ["tier", "result"],
)
cache_stale_serves = Counter(
    "service_cache_stale_serves_total",
    "Searches answered from the stale cache because OpenSearch failed.",
)
cache_evictions = Counter(
    "service_cache_evictions_total",
    "Entries evicted from an in-process tier before they expired (size bound).",
    ["tier"],
)
degraded_responses = Counter(
    "service_degraded_responses_total", "Responses marked degraded, by reason.", ["reason"]
)
outbox_backlog = Gauge(
    "service_outbox_backlog",
    "Outbox rows not yet published (as last seen by a relay).",
    multiprocess_mode="livemax",
)
queue_depth = Gauge(
    "service_queue_depth",
    "Messages ready in a RabbitMQ queue: queue=index (waiting for the indexer) or dlq "
    "(dead letters), read by a passive declare every few seconds.",
    ["queue"],
    multiprocess_mode="livemostrecent",
)
indexer_lag = Histogram(
    "service_indexer_lag_seconds",
    "Time from the write being acknowledged (committed) to the document being indexed.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0),
)
ratelimit_decisions = Counter(
    "service_ratelimit_decisions_total",
    "Rate-limiter decisions by outcome: allowed, rejected (429), disabled, "
    "redis_unavailable_open (let through) and redis_unavailable_closed (503).",
    ["outcome"],
)
indexer_events = Counter(
    "service_indexer_events_total", "Events the indexer handled, by result.", ["result"]
)
indexer_redelivered = Counter(
    "service_indexer_redelivered_messages_total",
    "Messages the broker delivered to the indexer more than once (AMQP redelivered flag: "
    "an earlier delivery was not acknowledged, e.g. its broker or indexer was lost). "
    "Harmless: the events carry external versions, so a second indexing is a 409 "
    "(service_indexer_superseded_events_total).",
)
indexer_superseded = Counter(
    "service_indexer_superseded_events_total",
    "Events OpenSearch refused with 409 because their version, or a newer one, is indexed "
    "already (a redelivered message, or an older event overtaken by a newer one).",
)
# PostgreSQL standbys: exported only when the service has replicas (SERVICE_POSTGRES_
# REPLICA_DSNS, `stack up --pg-replica`). Not registered at import: a labelled gauge with
# no child would still print its HELP and TYPE lines in the single-process registry; in
# multiprocess mode only the values a process has set are in the files anyway.
# `livemostrecent`: every worker measures the same standbys; the latest one counts.
replica_lag = Gauge(
    "service_pg_replica_lag_seconds",
    "How long the PostgreSQL primary has held WAL that this standby has not replayed "
    "(0: caught up; NaN: the standby did not answer the last check), per standby "
    "(host:port as the service reaches it), from the role check every 2 s.",
    ["replica"],
    multiprocess_mode="livemostrecent",
    registry=None,
)
replica_lag_bytes = Gauge(
    "service_pg_replica_lag_bytes",
    "WAL bytes between the primary's position at the last check and this standby's "
    "replay position (NaN: the standby did not answer the last check).",
    ["replica"],
    multiprocess_mode="livemostrecent",
    registry=None,
)
_replica_gauges_registered = False


def set_breaker_state(dependency: str, state: BreakerState) -> None:
    breaker_state.labels(dependency).set(state.gauge_value)


def record_transition(dependency: str, before: BreakerState, after: BreakerState) -> None:
    breaker_transitions.labels(dependency, before.value, after.value).inc()
    set_breaker_state(dependency, after)


@functools.cache
def _call_latency(dependency: str, outcome: str) -> Any:
    """The labelled child, looked up once (``labels()`` locks and checks every call)."""
    return dependency_latency.labels(dependency, outcome)


def record_call(dependency: str, duration_s: float, outcome: str) -> None:
    _call_latency(dependency, outcome).observe(duration_s)
    if outcome != "ok":
        dependency_errors.labels(dependency).inc()
    if outcome == "timeout":
        dependency_timeouts.labels(dependency).inc()


def record_retry(dependency: str, exc: BaseException) -> None:
    dependency_retries.labels(dependency).inc()


def set_replica_lag(replica: str, *, lag_s: float, lag_bytes: float) -> None:
    """A standby's lag (``math.nan`` for both when it could not be measured)."""
    global _replica_gauges_registered
    if not _replica_gauges_registered and not multiprocess_dir():
        REGISTRY.register(replica_lag)
        REGISTRY.register(replica_lag_bytes)
    _replica_gauges_registered = True
    replica_lag.labels(replica).set(lag_s)
    replica_lag_bytes.labels(replica).set(lag_bytes)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def render() -> tuple[bytes, str]:
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def mark_process_dead(pid: int) -> None:
    """For a supervisor (uvicorn's workers exit on their own: live gauges drop their files)."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
