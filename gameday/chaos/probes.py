"""Probes for steady-state hypotheses and stop conditions (Chaos Toolkit
python providers). The SLO probe reads the running load test's live.json, so
a hypothesis can be checked during the method, not only before and after.

Every source comes from the experiment's configuration (gameday.chaos.configuration),
so the probes work in a plain `chaos run` too: the run directory (`gameday_run_dir`),
breaker states from the target profile's signals (`gameday_profile`), a Prometheus
text endpoint (`gameday_metrics_url`, else the profile's), a Prometheus server for the
PromQL probes (their `prometheus_url`, else the profile's). A missing one is one line
naming the --var that gives it.

    promql_below("max(service_breaker_state)", 2)          # no breaker open now
    promql_below('sum(rate(http_requests_total{code=~"5.."}[1m]))', 0.5)
"""

from __future__ import annotations

import inspect
import json
import time
from pathlib import Path
from typing import Any

import httpx

from gameday import histograms
from gameday.chaos.alerts import PrometheusUnreachable
from gameday.chaos.alerts import query as instant_query
from gameday.chaos.breakers import read_breakers, scrape
from gameday.chaos.configuration import (
    METRICS_URL_VAR,
    metrics_url_of,
    profile_of,
    prometheus_url_of,
)
from gameday.chaos.events import RUN_DIR_VAR, Configuration, run_dir_of
from gameday.errors import ConfigError
from gameday.rundir import HypothesisChecked
from gameday.settings import StackSettings

__all__ = [
    "breaker_is",
    "breaker_state",
    "document_count",
    "error_rate",
    "error_rate_below",
    "outbox_backlog",
    "p95_ms",
    "promql_above",
    "promql_below",
    "promql_value",
    "queue_depth",
    "rate_limited",
    "service_ready",
    "slo_holds",
    "wait_until",
]


def _window(window_s: int, directory: Path) -> list[dict[str, Any]]:
    live = json.loads((directory / "live.json").read_text())
    return list(live["seconds"][-window_s:])


def _measure(window_s: int, directory: Path) -> tuple[float | None, float, int]:
    seconds = _window(window_s, directory)
    requests = sum(s["requests"] for s in seconds)
    errors = sum(s.get("errors", s["failures"]) for s in seconds)
    if not requests:
        return None, 0.0, 0
    merged = histograms.merge(histograms.decode(s["hist"]) for s in seconds)
    return histograms.percentile_ms(merged, 95), errors / requests, requests


def p95_ms(window_s: int = 10, configuration: Configuration | None = None) -> float | None:
    return _measure(window_s, run_dir_of(configuration).path)[0]


def error_rate(window_s: int = 10, configuration: Configuration | None = None) -> float:
    return _measure(window_s, run_dir_of(configuration).path)[1]


def slo_holds(
    window_s: int = 10,
    p95_max_ms: float = 500.0,
    error_rate_max: float = 0.001,
    phase: str = "",
    configuration: Configuration | None = None,
) -> bool:
    """True when the last `window_s` seconds kept both objectives (and saw traffic)."""
    run_dir = run_dir_of(configuration)
    ok, value = slo_window_holds(window_s, p95_max_ms, error_rate_max, directory=run_dir.path)
    run_dir.append_event(HypothesisChecked(phase=phase, probe="slo_holds", ok=ok, value=value))
    return ok


def slo_window_holds(
    window_s: int, p95_max_ms: float, error_rate_max: float, *, directory: Path
) -> tuple[bool, dict[str, Any]]:
    """`slo_holds`'s measurement without the event, for the harness itself (a suite
    waiting for the steady state before its next experiment): whether the window
    held, and what it measured."""
    p95, rate, requests = _measure(int(window_s), directory)
    ok = (
        requests > 0
        and p95 is not None
        and p95 < float(p95_max_ms)
        and rate <= float(error_rate_max)
    )
    return ok, {"p95_ms": p95, "error_rate": rate, "requests": requests}


def error_rate_below(
    threshold: float = 0.5, window_s: int = 30, configuration: Configuration | None = None
) -> bool:
    """Safeguard (stop condition): false once the error rate has stayed above
    `threshold` in every one of the last `window_s` seconds ("above 50% for
    30 s"); a second with no completed request counts as failing. A shorter
    outage, however deep, does not trip it."""
    seconds = _window(int(window_s), run_dir_of(configuration).path)
    if len(seconds) < int(window_s):
        return True

    def failing(second: dict[str, Any]) -> bool:
        requests = int(second["requests"])
        errors = int(second.get("errors", second["failures"]))
        return requests == 0 or errors / requests > float(threshold)

    return not all(failing(s) for s in seconds)


def promql_value(
    query: str,
    prometheus_url: str | None = None,
    configuration: Configuration | None = None,
) -> float | None:
    """The PromQL query's value now: its largest series' value (None: no series). The
    server is `prometheus_url`, else the target profile's (alerts, then signals)."""
    server = prometheus_url_of(configuration, prometheus_url)
    try:
        series = instant_query(server, query, timeout_s=5.0)
    except PrometheusUnreachable as exc:
        raise ConfigError(f"PromQL probe {query!r}: {exc}") from None
    return max((value for _, value in series), default=None)


def promql_below(
    query: str,
    threshold: float,
    prometheus_url: str | None = None,
    phase: str = "",
    configuration: Configuration | None = None,
) -> bool:
    """True when every series of the query is below `threshold` now. A query with no
    series is false: a steady state nothing measures is not shown to hold (a typo in a
    metric's name would otherwise always pass)."""
    value = promql_value(query, prometheus_url, configuration)
    ok = value is not None and value < float(threshold)
    _record("promql_below", ok, query, value, threshold, phase, configuration)
    return ok


def promql_above(
    query: str,
    threshold: float,
    prometheus_url: str | None = None,
    phase: str = "",
    configuration: Configuration | None = None,
) -> bool:
    """True when the query's largest series is above `threshold` now (no series: false)."""
    value = promql_value(query, prometheus_url, configuration)
    ok = value is not None and value > float(threshold)
    _record("promql_above", ok, query, value, threshold, phase, configuration)
    return ok


def _record(
    probe: str,
    ok: bool,
    query: str,
    value: float | None,
    threshold: float,
    phase: str,
    configuration: Configuration | None,
) -> None:
    """On the run's timeline when there is one (a plain `chaos run` may have none)."""
    if (configuration or {}).get(RUN_DIR_VAR):
        run_dir_of(configuration).append_event(
            HypothesisChecked(
                phase=phase,
                probe=probe,
                ok=ok,
                value={"query": query, "value": value, "threshold": float(threshold)},
            )
        )


def service_metrics(configuration: Configuration | None = None) -> dict[str, float]:
    """The Prometheus samples of the configuration's text endpoint (`gameday_metrics_url`,
    else the profile's signals.metrics_url), as `name{label="v",...}` -> value."""
    samples: dict[str, float] = {}
    for name, labels, value in scrape(metrics_url_of(configuration)):
        text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        samples[f"{name}{{{text}}}"] = value
    return samples


def _rejections(configuration: Configuration | None) -> float:
    return service_metrics(configuration).get(
        'service_ratelimit_decisions_total{outcome="rejected"}', 0.0
    )


def rate_limited(
    min_rejections: int = 1,
    window_s: float = 3.0,
    phase: str = "",
    configuration: Configuration | None = None,
) -> bool:
    """True when the service refused at least ``min_rejections`` requests with 429 over
    the next ``window_s`` seconds (its rate-limiter counter, all workers): the abusive
    tenant of the noisy_neighbour scenario is being held to its quota."""
    run_dir = run_dir_of(configuration)
    before = _rejections(configuration)
    time.sleep(float(window_s))
    rejected = _rejections(configuration) - before
    ok = rejected >= int(min_rejections)
    run_dir.append_event(
        HypothesisChecked(
            phase=phase,
            probe="rate_limited",
            ok=ok,
            value={"rejected": rejected, "window_s": float(window_s)},
        )
    )
    return ok


def breaker_state(dependency: str, configuration: Configuration | None = None) -> str:
    """closed, half-open or open (unknown: no such series), by the target profile's
    signals mapping (`gameday_profile`), read from its source now."""
    signals = profile_of(configuration).signals
    if signals is None or dependency not in signals.breakers:
        known = ", ".join(signals.breakers) if signals is not None else "(no signals)"
        raise ConfigError(
            f"the target profile maps no breaker {dependency!r}; add it under "
            f"signals.breakers (mapped now: {known})"
        )
    url = (configuration or {}).get(METRICS_URL_VAR) or None
    return read_breakers(signals, metrics_url=url, timeout_s=2.0)[dependency]


def breaker_is(dependency: str, state: str, configuration: Configuration | None = None) -> bool:
    return breaker_state(dependency, configuration) == state


def outbox_backlog(configuration: Configuration | None = None) -> float:
    """The reference service's outbox backlog gauge (`service_outbox_backlog`)."""
    return service_metrics(configuration).get("service_outbox_backlog{}", 0.0)


def queue_depth(queue: str = "documents.index") -> int:
    """Messages ready in a RabbitMQ queue (the DLQ is `documents.index.dlq`)."""
    import asyncio

    import aio_pika

    async def depth() -> int:
        connection = await aio_pika.connect(StackSettings().amqp_url, timeout=5)
        async with connection:
            channel = await connection.channel()
            declared = await channel.declare_queue(queue, passive=True)
            return int(declared.declaration_result.message_count or 0)

    return asyncio.run(depth())


def document_count(alias: str = "documents") -> int:
    """Documents searchable in OpenSearch right now (all tenants)."""
    response = httpx.get(f"{StackSettings().opensearch_urls[0]}/{alias}/_count", timeout=5.0)
    response.raise_for_status()
    return int(response.json()["count"])


def service_ready(
    url: str | None = None, timeout_s: float = 2.0, configuration: Configuration | None = None
) -> bool:
    """The health URL (`url`, else the target profile's health endpoint) answers 2xx."""
    url = url or profile_of(configuration).health_endpoint
    try:
        return httpx.get(url, timeout=timeout_s).is_success
    except httpx.HTTPError:
        return False


def wait_until(
    func: str,
    timeout_s: float = 60.0,
    every_s: float = 1.0,
    configuration: Configuration | None = None,
    **arguments: Any,
) -> bool:
    """Poll another probe of this module until it answers true (or time runs out)."""
    probe = globals()[func]
    if "configuration" in inspect.signature(probe).parameters:
        arguments = {**arguments, "configuration": configuration}
    deadline = time.monotonic() + float(timeout_s)
    while time.monotonic() < deadline:
        if probe(**arguments):
            return True
        time.sleep(float(every_s))
    return False
