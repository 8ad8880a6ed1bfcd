"""Synthetic series that make each alert of deploy/prometheus/rules.yml true, then false.

``series_for(alert, bad, good)`` returns promtool ``input_series`` for ``bad`` samples in
breach followed by ``good`` samples back to normal, one sample per STEP_S. Counters and
histograms keep growing through both phases (traffic never stops) so rates stay defined.
"""

from __future__ import annotations

from collections.abc import Callable

STEP_S = 10
LATENCY_BUCKETS_S = (
    "0.005",
    "0.01",
    "0.025",
    "0.05",
    "0.1",
    "0.25",
    "0.5",
    "0.8",
    "1.0",
    "2.5",
    "5.0",
    "10.0",
    "+Inf",
)
ROUTE = 'route="/v1/search",method="GET"'

Series = list[dict[str, str]]


def _values(per_step: list[float]) -> str:
    return " ".join(f"{v:g}" for v in per_step)


def _gauge(name: str, labels: str, breach: float) -> Callable[[int, int], Series]:
    def build(bad: int, good: int) -> Series:
        return [
            {
                "series": f"{name}{{{labels}}}",
                "values": _values([0.0] + [breach] * bad + [0.0] * good),
            }
        ]

    return build


def _counter(increments: list[float]) -> str:
    total, out = 0.0, []
    for inc in increments:
        total += inc
        out.append(total)
    return _values(out)


def _errors(bad: int, good: int) -> Series:
    ok = [100.0] * (1 + bad + good)
    err = [0.0] + [10.0] * bad + [0.0] * good  # 10 of 110 requests: 9% in breach
    return [
        {
            "series": f'service_http_requests_total{{{ROUTE},status_class="2xx"}}',
            "values": _counter(ok),
        },
        {
            "series": f'service_http_requests_total{{{ROUTE},status_class="5xx"}}',
            "values": _counter(err),
        },
    ]


def _latency(slow_bucket: str) -> Callable[[int, int], Series]:
    """Every request of the bad phase lands in ``slow_bucket``, of the good one in 0.1."""

    def build(bad: int, good: int) -> Series:
        series = []
        for le in LATENCY_BUCKETS_S:
            upper = float(le)
            per_step = [0.0]
            per_step += [100.0 if upper >= float(slow_bucket) else 0.0] * bad
            per_step += [100.0 if upper >= 0.1 else 0.0] * good
            name = "service_http_request_duration_seconds_bucket"
            series.append(
                {
                    "series": f'{name}{{{ROUTE},status_class="2xx",le="{le}"}}',
                    "values": _counter(per_step),
                }
            )
        return series

    return build


# alert -> (series builder, the labels and the summary the firing alert carries)
SYNTHETIC: dict[str, tuple[Callable[[int, int], Series], dict[str, str], str]] = {
    "ServiceP95LatencyHigh": (
        _latency("0.8"),
        {"severity": "warning"},
        "P95 latency above 500 ms (785ms)",
    ),
    "ServiceP95LatencyCritical": (
        _latency("2.5"),
        {"severity": "critical"},
        "P95 latency above 1 s (2.425s)",
    ),
    "ServiceErrorRateHigh": (
        _errors,
        {"severity": "critical"},
        "5xx error rate above 1% (9.091%)",
    ),
    "BreakerOpen": (
        _gauge("service_breaker_state", 'dependency="opensearch"', 2),
        {"severity": "critical", "dependency": "opensearch"},
        "circuit breaker for opensearch is open",
    ),
    "IndexQueueDeep": (
        _gauge("service_queue_depth", 'queue="index"', 5000),
        {"severity": "warning"},
        "index queue holds 5000 messages (> 1000)",
    ),
    "DeadLetterQueueNotEmpty": (
        _gauge("service_queue_depth", 'queue="dlq"', 3),
        {"severity": "warning"},
        "dead-letter queue holds 3 messages",
    ),
    "OutboxBacklogHigh": (
        _gauge("service_outbox_backlog", "", 5000),
        {"severity": "warning"},
        "outbox holds 5000 unpublished rows (> 1000)",
    ),
    "PostgresReplicaLagHigh": (
        _gauge("service_pg_replica_lag_seconds", 'replica="127.0.0.1:22433"', 45),
        {"severity": "warning", "replica": "127.0.0.1:22433"},
        "PostgreSQL replica 127.0.0.1:22433 is 45s behind the primary (> 30 s)",
    ),
}
