"""Probes for steady-state hypotheses and stop conditions (Chaos Toolkit
python providers). The SLO probe reads the running load test's live.json, so
a hypothesis can be checked during the method, not only before and after."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from gameday import histograms
from gameday.chaos.events import Configuration, run_dir_of
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
    "queue_depth",
    "rate_limited",
    "service_ready",
    "slo_holds",
    "wait_until",
]

BREAKER_STATES = {0: "closed", 1: "half_open", 2: "open"}


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


def _service_url(url: str | None) -> str:
    return url or os.environ.get("GAMEDAY_SERVICE_URL") or StackSettings().service_url


def service_metrics(url: str | None = None) -> dict[str, float]:
    """The service's Prometheus samples, as `name{label="v",...}` -> value."""
    text = httpx.get(f"{_service_url(url)}/metrics", timeout=2.0).text
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}"] = float(sample.value)
    return samples


def _rejections(url: str | None) -> float:
    return service_metrics(url).get('service_ratelimit_decisions_total{outcome="rejected"}', 0.0)


def rate_limited(
    min_rejections: int = 1,
    window_s: float = 3.0,
    url: str | None = None,
    phase: str = "",
    configuration: Configuration | None = None,
) -> bool:
    """True when the service refused at least ``min_rejections`` requests with 429 over
    the next ``window_s`` seconds (its rate-limiter counter, all workers): the abusive
    tenant of the noisy_neighbour scenario is being held to its quota."""
    run_dir = run_dir_of(configuration)
    before = _rejections(url)
    time.sleep(float(window_s))
    rejected = _rejections(url) - before
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


def breaker_state(dependency: str, url: str | None = None) -> str:
    """closed, half_open or open, from the service's service_breaker_state gauge."""
    value = service_metrics(url).get(f'service_breaker_state{{dependency="{dependency}"}}')
    return "unknown" if value is None else BREAKER_STATES.get(int(value), "unknown")


def breaker_is(dependency: str, state: str, url: str | None = None) -> bool:
    return breaker_state(dependency, url) == state


def outbox_backlog(url: str | None = None) -> float:
    return service_metrics(url).get("service_outbox_backlog{}", 0.0)


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


def service_ready(url: str | None = None, timeout_s: float = 2.0) -> bool:
    base = url or StackSettings().service_url
    try:
        return httpx.get(f"{base}/health/ready", timeout=timeout_s).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(func: str, timeout_s: float = 60.0, every_s: float = 1.0, **arguments: Any) -> bool:
    """Poll another probe of this module until it answers true (or time runs out)."""
    probe = globals()[func]
    deadline = time.monotonic() + float(timeout_s)
    while time.monotonic() < deadline:
        if probe(**arguments):
            return True
        time.sleep(float(every_s))
    return False
