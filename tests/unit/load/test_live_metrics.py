"""The live metrics endpoint's numbers (gameday/load/live_metrics.py) over a synthetic
store, read back through prometheus_client's own exposition and parser: what Prometheus
would scrape."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from gameday import histograms
from gameday.load.capture_model import Recorder, Store
from gameday.load.live_metrics import (
    MIN_CPU_SPAN_S,
    STALE_CPU_S,
    CpuMeter,
    GeneratorNow,
    LiveCollector,
    LiveTotals,
    percentile_us,
)

START = 1_800_000_000
RUN = "20270115-080000-read_only"
SEARCH = "GET /v1/search"
WRITE = "PUT /v1/documents/{id}"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def make_store(
    requests: Callable[[int], list[tuple[str, float, str | None]]], seconds: int
) -> tuple[Store, LiveTotals]:
    """`seconds` seconds from START; second s has the requests `requests(s)` gives, as
    (endpoint, latency_ms, failure kind). Merged in two deltas, as reports arrive."""
    store, totals = Store(), LiveTotals()
    for half in (range(0, seconds // 2), range(seconds // 2, seconds)):
        recorder = Recorder()
        for s in half:
            for endpoint, latency_ms, kind in requests(s):
                recorder.record(
                    second=START + s,
                    endpoint=endpoint,
                    latency_ms=latency_ms,
                    failure_kind=kind,
                    exemplar=lambda: {"status": 200},
                )
        delta = recorder.take_delta()
        store.merge(delta)
        totals.add(delta)
    return store, totals


def scrape(
    store: Store,
    totals: LiveTotals,
    *,
    complete_before: int,
    generator: GeneratorNow | None = None,
) -> Samples:
    collector = LiveCollector(
        store,
        totals,
        run=RUN,
        start_epoch=START,
        complete_before=lambda: complete_before,
        generator=lambda: generator or GeneratorNow(),
        info={"scenario": "read_only"},
    )
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    text = generate_latest(registry).decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def at(samples: Samples, name: str, endpoint: str | None = None, **labels: str) -> float | None:
    key = {"run": RUN, **labels}
    if endpoint is not None:
        key["endpoint"] = endpoint
    return samples.get((name, frozenset(key.items())))


def mixed(s: int) -> list[tuple[str, float, str | None]]:
    """Per second: 100 searches (latency 1..100 ms; in seconds 6-9 the 10 slowest are 5xx,
    and 5 are 4xx) and 10 writes at 50 ms (one a connection failure in every second)."""
    out: list[tuple[str, float, str | None]] = []
    for i in range(100):
        kind = None
        if s >= 6 and i >= 90:
            kind = "fail_5xx"
        elif i < 5:
            kind = "fail_4xx"
        out.append((SEARCH, float(i + 1), kind))
    out += [(WRITE, 50.0, "fail_connection" if i == 0 else None) for i in range(10)]
    return out


def test_the_counters_are_every_request_merged_so_far_with_4xx_apart_from_errors() -> None:
    store, totals = make_store(mixed, seconds=10)
    samples = scrape(store, totals, complete_before=START + 10)
    assert at(samples, "gameday_load_requests_total", SEARCH) == 1000
    assert at(samples, "gameday_load_requests_total", WRITE) == 100
    assert at(samples, "gameday_load_errors_total", SEARCH) == 4 * 10  # 5xx in seconds 6-9
    assert at(samples, "gameday_load_client_errors_total", SEARCH) == 10 * 5
    assert at(samples, "gameday_load_errors_total", WRITE) == 10  # connection failures
    assert at(samples, "gameday_load_client_errors_total", WRITE) == 0
    assert store.total_requests() == 1100  # the totals agree with the store they follow
    assert at(samples, "gameday_run_info", None, scenario="read_only") == 1, (
        "the run is named in an info metric"
    )


def test_rate_p95_and_error_ratio_cover_the_last_five_complete_seconds_only() -> None:
    # seconds 0-9 merged; 9 is not complete yet: the window is seconds 4-8
    store, totals = make_store(mixed, seconds=10)
    samples = scrape(store, totals, complete_before=START + 9)
    assert at(samples, "gameday_load_rps", SEARCH) == 100.0
    assert at(samples, "gameday_load_rps", WRITE) == 10.0
    # seconds 6, 7, 8 have 10 errors of 100 each; 4 and 5 none: 30 / 500
    assert at(samples, "gameday_load_error_ratio", SEARCH) == pytest.approx(30 / 500)
    assert at(samples, "gameday_load_error_ratio", WRITE) == pytest.approx(5 / 50)
    # latencies 1..100 ms every second: the 95th percentile is 95 ms, to HDR's 3 digits
    p95 = at(samples, "gameday_load_p95_seconds", SEARCH)
    assert p95 == pytest.approx(0.095, rel=1e-3)
    assert at(samples, "gameday_load_p95_seconds", WRITE) == pytest.approx(0.050, rel=1e-3)


def test_the_p95_is_the_merged_windows_not_an_average_of_seconds() -> None:
    # four fast seconds (10 ms) and one slow one (1 s), 100 requests each: P95 is 1 s
    store, totals = make_store(
        lambda s: [(SEARCH, 1000.0 if s == 4 else 10.0, None)] * 100, seconds=5
    )
    samples = scrape(store, totals, complete_before=START + 5)
    expected = histograms.percentile_ms(
        histograms.merge(store.buckets[START + s][SEARCH].histogram for s in range(5)), 95
    )
    assert at(samples, "gameday_load_p95_seconds", SEARCH) == pytest.approx(expected / 1000)
    assert at(samples, "gameday_load_p95_seconds", SEARCH) == pytest.approx(1.0, rel=1e-3)


@given(
    latencies_ms=st.lists(st.floats(min_value=0.0, max_value=70_000.0), min_size=1),
    percentile=st.sampled_from([0.5, 50.0, 90.0, 95.0, 99.0, 99.9, 100.0]),
)
def test_the_fast_percentile_is_hdrhs_own(latencies_ms: list[float], percentile: float) -> None:
    histogram = histograms.new_histogram()
    for latency_ms in latencies_ms:
        histograms.record_ms(histogram, latency_ms)
    assert percentile_us(histogram, percentile) == histogram.get_value_at_percentile(percentile)


def test_an_endpoint_without_requests_in_the_window_has_rate_0_and_no_latency() -> None:
    store, totals = make_store(
        lambda s: [(WRITE, 20.0, None)] if s < 2 else [(SEARCH, 5.0, None)], seconds=10
    )
    samples = scrape(store, totals, complete_before=START + 10)
    assert at(samples, "gameday_load_requests_total", WRITE) == 2
    assert at(samples, "gameday_load_rps", WRITE) == 0.0
    assert at(samples, "gameday_load_p95_seconds", WRITE) is None
    assert at(samples, "gameday_load_error_ratio", WRITE) is None
    assert at(samples, "gameday_load_rps", SEARCH) == 1.0


def test_before_a_complete_second_only_the_counters_are_shown() -> None:
    store, totals = make_store(lambda s: [(SEARCH, 5.0, None)] * 3, seconds=1)
    samples = scrape(store, totals, complete_before=START)
    assert at(samples, "gameday_load_requests_total", SEARCH) == 3
    assert at(samples, "gameday_load_rps", SEARCH) is None
    assert at(samples, "gameday_load_p95_seconds", SEARCH) is None


def test_a_window_shorter_than_five_seconds_divides_by_the_seconds_it_has() -> None:
    store, totals = make_store(lambda s: [(SEARCH, 5.0, None)] * 30, seconds=3)
    samples = scrape(store, totals, complete_before=START + 2)
    assert at(samples, "gameday_load_rps", SEARCH) == 30.0


def test_the_run_level_gauges_follow_the_generator() -> None:
    store, totals = make_store(mixed, seconds=2)
    now = GeneratorNow(target_rps=110.0, cpu_pct_by_process={"local": 42.25}, valid=False)
    samples = scrape(store, totals, complete_before=START + 2, generator=now)
    assert at(samples, "gameday_load_target_rps") == 110.0
    assert at(samples, "gameday_generator_cpu_percent", process="local") == 42.2
    assert at(samples, "gameday_generator_valid") == 0.0
    closed = scrape(store, totals, complete_before=START + 2, generator=GeneratorNow())
    assert at(closed, "gameday_load_target_rps") is None  # a closed model has no rate
    assert at(closed, "gameday_generator_valid") == 1.0


def test_cpu_is_a_share_of_one_core_over_at_least_a_second() -> None:
    meter = CpuMeter()
    meter.note("worker-a", wall_s=100.0, cpu_s=10.0)
    meter.note("worker-a", wall_s=103.0, cpu_s=11.5)  # 1.5 s of CPU in 3 s
    meter.note("worker-b", wall_s=100.0, cpu_s=3.0)
    meter.note("worker-b", wall_s=102.0, cpu_s=5.0)  # a whole core
    assert meter.percent_by_process(now_s=103.0) == {"worker-a": 50.0, "worker-b": 100.0}


def test_two_samples_milliseconds_apart_give_no_cpu_figure_rather_than_a_huge_one() -> None:
    """psutil's cpu_percent() on two calls 4 ms apart once said 2,325% for one process:
    a 10 ms tick over 4 ms. Under MIN_CPU_SPAN_S the meter keeps the older reference."""
    meter = CpuMeter()
    meter.note("master", wall_s=200.0, cpu_s=1.0)
    meter.note("master", wall_s=200.004, cpu_s=1.01)
    assert meter.percent_by_process(now_s=200.01) == {}
    meter.note("master", wall_s=200.0 + MIN_CPU_SPAN_S, cpu_s=1.02)
    assert meter.percent_by_process(now_s=201.0) == {"master": pytest.approx(2.0)}
    meter.note("master", wall_s=201.5, cpu_s=1.6)  # measured from 200.004 (>= 1 s back)
    assert meter.percent_by_process(now_s=201.5) == {
        "master": pytest.approx((1.6 - 1.01) / 1.496 * 100)
    }


def test_a_process_silent_for_long_drops_out_of_the_cpu_figures() -> None:
    meter = CpuMeter()
    meter.note("lost", wall_s=300.0, cpu_s=1.0)
    meter.note("lost", wall_s=302.0, cpu_s=2.0)
    assert meter.percent_by_process(now_s=302.0 + STALE_CPU_S) == {"lost": 50.0}
    assert meter.percent_by_process(now_s=302.1 + STALE_CPU_S) == {}


def test_a_repeated_or_older_cpu_sample_is_ignored() -> None:
    meter = CpuMeter()
    meter.note("w", wall_s=10.0, cpu_s=1.0)
    meter.note("w", wall_s=12.0, cpu_s=2.0)
    meter.note("w", wall_s=11.0, cpu_s=9.0)  # reordered
    meter.note("w", wall_s=12.0, cpu_s=9.0)  # repeated
    assert meter.percent_by_process(now_s=12.0) == {"w": 50.0}
