"""The run's live metrics, for Prometheus: what the Locust master (or the one local
process) has merged so far, exposed while the load runs (docs/alerts.md, "The harness's
live endpoint"). The plugin serves it (gameday/plugin/live_metrics.py); this module is
the data side, with no Locust import, so it is unit-testable.

    totals = LiveTotals()
    totals.add(delta)                       # beside every store.merge(delta)
    collector = LiveCollector(store, totals, run="20260101-120000-search_mix",
                              start_epoch=start, complete_before=lambda: int(time.time()),
                              generator=lambda: GeneratorNow(target_rps=50.0),
                              info={"scenario": "search_mix", "shape": "constant-rate"})
    registry.register(collector)            # prometheus_client

Per endpoint (the run directory's name for it, `GET /search`): the counters since the
load started, and over the last `window_s` complete seconds the achieved rate, P95 and
error ratio. Errors are counted as the report counts them (`server_errors`): 5xx,
connection failures and timeouts; 4xx answers have their own counter.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from hdrh.histogram import HdrHistogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from gameday import histograms
from gameday.load.capture_model import CLIENT_ERROR_KIND, SERVER_ERROR_KINDS, Store

WINDOW_S = 5  # the rate, P95 and error ratio: over the last 5 complete seconds
MIN_CPU_SPAN_S = 1.0  # a CPU share over less is mostly the kernel's tick rounding
STALE_CPU_S = 15.0  # a process silent this long (a lost worker) is no longer shown


@dataclass
class EndpointTotals:
    requests: int = 0
    errors: int = 0  # as the report counts them (SERVER_ERROR_KINDS)
    client_errors: int = 0  # 4xx


def percentile_us(histogram: HdrHistogram, percentile: float) -> int:
    """hdrh's `get_value_at_percentile`, computed in numpy (`histograms.percentiles_us`):
    every endpoint, every second, in the master's event loop."""
    return histograms.percentiles_us(histogram, [percentile])[0]


class LiveTotals:
    """Per endpoint, since the load started: added from each delta as the store merges it,
    so a scrape costs nothing that grows with the run's length."""

    def __init__(self) -> None:
        self.endpoints: dict[str, EndpointTotals] = {}

    def add(self, delta: dict[str, Any]) -> None:
        """A Recorder's delta (`Recorder.take_delta()`), the one `Store.merge` takes."""
        for eps in delta["buckets"].values():
            for endpoint, wire in eps.items():
                totals = self.endpoints.get(endpoint)
                if totals is None:
                    totals = self.endpoints[endpoint] = EndpointTotals()
                kinds = wire["k"]
                totals.requests += int(wire["n"])
                totals.errors += sum(int(kinds.get(kind, 0)) for kind in SERVER_ERROR_KINDS)
                totals.client_errors += int(kinds.get(CLIENT_ERROR_KIND, 0))


@dataclass
class CpuMeter:
    """Each process's CPU share (percent of one core), from its cumulative CPU seconds
    sampled on its own wall clock: the share over the span between its newest sample and
    the newest one at least MIN_CPU_SPAN_S older. psutil's `cpu_percent()` between two
    calls a few milliseconds apart divides a 10 ms tick by those milliseconds (2,325%
    for one process once); a span of a second or more cannot."""

    samples: dict[str, deque[tuple[float, float]]] = field(default_factory=dict)

    def note(self, process: str, *, wall_s: float, cpu_s: float) -> None:
        kept = self.samples.get(process)
        if kept is None:
            kept = self.samples[process] = deque(maxlen=32)
        if kept and wall_s <= kept[-1][0]:
            return  # not newer: a repeated or reordered report
        kept.append((wall_s, cpu_s))

    def percent_by_process(self, now_s: float) -> dict[str, float]:
        shares: dict[str, float] = {}
        for process, kept in self.samples.items():
            if not kept or now_s - kept[-1][0] > STALE_CPU_S:
                continue
            wall, cpu = kept[-1]
            older = [s for s in kept if wall - s[0] >= MIN_CPU_SPAN_S]
            if not older:
                continue
            ref_wall, ref_cpu = older[-1]
            shares[process] = max(cpu - ref_cpu, 0.0) / (wall - ref_wall) * 100.0
        return shares


@dataclass(frozen=True)
class GeneratorNow:
    """The generator's run-level facts at a scrape."""

    target_rps: float | None = None  # what the shape asks for now (open model)
    cpu_pct_by_process: dict[str, float] = field(default_factory=dict)
    valid: bool = True  # no invalidity reason so far (GeneratorInfo.valid)


class LiveCollector(Collector):
    """A prometheus_client collector over the master's `Store` (see the module docstring).

    `complete_before()`: the first epoch second that may still get requests (every
    process's data before it has been merged); the window ends there."""

    def __init__(
        self,
        store: Store,
        totals: LiveTotals,
        *,
        run: str,
        start_epoch: int,
        complete_before: Callable[[], int],
        generator: Callable[[], GeneratorNow],
        info: dict[str, str] | None = None,
        window_s: int = WINDOW_S,
    ) -> None:
        self.store, self.totals, self.run = store, totals, run
        self.info = dict(info or {})
        self.start_epoch, self.window_s = start_epoch, window_s
        self.complete_before, self.generator = complete_before, generator

    def collect(self) -> Iterator[Metric]:
        run = ["run"]
        info = InfoMetricFamily("gameday_run", "The run this endpoint belongs to")
        info.add_metric([], {"run": self.run, **self.info})
        yield info
        endpoint = ["run", "endpoint"]
        requests = CounterMetricFamily(
            "gameday_load_requests", "Requests sent, since the load started", labels=endpoint
        )
        errors = CounterMetricFamily(
            "gameday_load_errors",
            "Errors as the report counts them (5xx, connection failures, timeouts)",
            labels=endpoint,
        )
        client_errors = CounterMetricFamily(
            "gameday_load_client_errors",
            "4xx answers (failed requests, not errors)",
            labels=endpoint,
        )
        window = f"over the last {self.window_s} complete seconds"
        rps = GaugeMetricFamily(
            "gameday_load_rps", f"Achieved requests/s {window}", labels=endpoint
        )
        p95 = GaugeMetricFamily(
            "gameday_load_p95_seconds", f"P95 latency {window} (HDR)", labels=endpoint
        )
        error_ratio = GaugeMetricFamily(
            "gameday_load_error_ratio", f"Errors / requests {window}", labels=endpoint
        )
        seconds = self._window()
        for name in sorted(self.totals.endpoints):
            totals = self.totals.endpoints[name]
            labels = [self.run, name]
            requests.add_metric(labels, totals.requests)
            errors.add_metric(labels, totals.errors)
            client_errors.add_metric(labels, totals.client_errors)
            if not seconds:
                continue
            merged = histograms.new_histogram()
            sent = failed = 0
            for epoch in seconds:
                bucket = self.store.buckets.get(epoch, {}).get(name)
                if bucket is not None and bucket.requests:
                    merged.add(bucket.histogram)
                    sent += bucket.requests
                    failed += sum(bucket.kinds.get(kind, 0) for kind in SERVER_ERROR_KINDS)
            rps.add_metric(labels, sent / len(seconds))
            if sent:  # no request in the window: no latency and no ratio (absent, not 0)
                p95.add_metric(labels, percentile_us(merged, 95) / 1_000_000)
                error_ratio.add_metric(labels, failed / sent)
        yield from (requests, errors, client_errors, rps, p95, error_ratio)
        now = self.generator()
        if now.target_rps is not None:
            target = GaugeMetricFamily(
                "gameday_load_target_rps", "What the load shape asks for now", labels=run
            )
            target.add_metric([self.run], now.target_rps)
            yield target
        cpu = GaugeMetricFamily(
            "gameday_generator_cpu_percent",
            "CPU of each Locust process, percent of one core, over its last second or more",
            labels=["run", "process"],
        )
        for process, share in sorted(now.cpu_pct_by_process.items()):
            cpu.add_metric([self.run, process], round(share, 1))
        yield cpu
        valid = GaugeMetricFamily(
            "gameday_generator_valid",
            "1 while no reason invalidates the run's load generator so far, else 0",
            labels=run,
        )
        valid.add_metric([self.run], 1.0 if now.valid else 0.0)
        yield valid

    def _window(self) -> list[int]:
        end = self.complete_before()
        return list(range(max(self.start_epoch, end - self.window_s), end))


__all__ = ["CpuMeter", "GeneratorNow", "LiveCollector", "LiveTotals", "WINDOW_S", "percentile_us"]
