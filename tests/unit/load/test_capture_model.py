from __future__ import annotations

import csv
from pathlib import Path

from gameday.load.capture_model import Recorder, Store
from gameday.load.rundir import write_timeseries


def _record(
    recorder: Recorder,
    second: int,
    latency_ms: float,
    failure: str | None = None,
    endpoint: str = "GET /v1/search",
) -> None:
    recorder.record(
        second=second,
        endpoint=endpoint,
        latency_ms=latency_ms,
        failure_kind=failure,
        request_id=f"r{latency_ms}",
        exemplar=lambda: {"status": 200},
    )


def test_the_merged_count_is_the_sum_of_every_workers_requests() -> None:
    store = Store()
    workers = {"w1": Recorder(), "w2": Recorder()}
    for i in range(30):
        _record(workers["w1"], 100 + i % 3, 10.0 + i)
    for i in range(45):
        _record(workers["w2"], 100 + i % 3, 20.0 + i, failure="fail_5xx" if i % 9 == 0 else None)
    # reports arrive in several deltas, interleaved
    for name, recorder in workers.items():
        store.merge(recorder.take_delta(), name)
    _record(workers["w1"], 102, 99.0)
    store.merge(workers["w1"].take_delta(), "w1")
    assert store.total_requests() == 30 + 45 + 1
    assert sum(b.failures for eps in store.buckets.values() for b in eps.values()) == 5
    assert store.buckets[100]["GET /v1/search"].kinds["fail_5xx"] == 5  # i % 9 == 0 falls in 100


def test_exemplars_keep_the_slowest_requests_of_each_second() -> None:
    recorder = Recorder()
    for latency in (5.0, 50.0, 1.0, 500.0, 40.0):
        _record(recorder, 7, latency)
    store = Store()
    store.merge(recorder.take_delta())
    kept = sorted(e[0] for e in store.buckets[7]["GET /v1/search"].exemplars)
    assert kept == [40.0, 50.0, 500.0]


def test_requests_with_equal_latency_and_request_id_are_recorded_without_error() -> None:
    # Found by bench/capture_cost.py: the twin made heapq compare the exemplar dicts.
    recorder = Recorder()
    for _ in range(10):
        _record(recorder, 7, 5.0)
    store = Store()
    store.merge(recorder.take_delta())
    bucket = store.buckets[7]["GET /v1/search"]
    assert bucket.requests == 10
    assert [e[:2] for e in bucket.exemplars] == [(5.0, "r5.0")]


def test_a_second_reported_in_two_deltas_counts_its_target_rate_once() -> None:
    recorder, store = Recorder(), Store()
    recorder.note_generator(10, target_rps=50.0, in_flight=3)
    store.merge(recorder.take_delta(), "w1")
    recorder.note_generator(10, target_rps=50.0, late_starts=2)
    store.merge(recorder.take_delta(), "w1")
    recorder.note_generator(10, target_rps=50.0)
    store.merge(recorder.take_delta(), "w2")
    assert store.generator[10].target_rps == 100.0
    assert store.generator[10].late_starts == 2


def test_degraded_answers_are_counted_per_second_across_workers_and_written_as_a_column(
    tmp_path: Path,
) -> None:
    store = Store()
    workers = {"w1": Recorder(), "w2": Recorder()}
    for name, recorder in workers.items():
        for i in range(10):
            recorder.record(
                second=200,
                endpoint="GET /v1/search",
                latency_ms=5.0 + i,
                failure_kind="fail_5xx" if i == 0 else None,
                request_id=f"{name}-{i}",
                exemplar=lambda: {"status": 200},
                degraded=i % 2 == 0,  # i == 0 failed: a failure is never a degraded answer
            )
        store.merge(recorder.take_delta(), name)
    assert store.buckets[200]["GET /v1/search"].degraded == 2 * 4
    write_timeseries(store, 200, 200, tmp_path)
    with open(tmp_path / "timeseries.csv") as f:
        rows = {r["endpoint"]: r for r in csv.DictReader(f)}
    assert rows["GET /v1/search"]["degraded"] == rows["ALL"]["degraded"] == "8"


def test_an_exemplars_details_are_built_only_for_the_slowest_still_kept_when_shipped() -> None:
    # An open model that fell behind makes every request the slowest of its second so
    # far; building each one's details on the spot cost it about 50 µs a request.
    recorder, built = Recorder(), []
    for i in range(100):
        recorder.record(
            second=7,
            endpoint="GET /v1/search",
            latency_ms=float(i),  # each slower than every one before it
            failure_kind=None,
            exemplar=lambda i=i: built.append(i) or {"status": 200, "request_id": f"r{i}"},
        )
    assert built == []
    store = Store()
    store.merge(recorder.take_delta())
    assert sorted(built) == [97, 98, 99]
    kept = sorted(e[:2] for e in store.buckets[7]["GET /v1/search"].exemplars)
    assert kept == [(97.0, "r97"), (98.0, "r98"), (99.0, "r99")]


def test_an_exemplar_whose_details_fail_is_left_out_and_the_counts_still_ship() -> None:
    def unreadable() -> dict[str, object]:
        raise AttributeError("a client's response without the usual attributes")

    recorder = Recorder()
    recorder.record(
        second=7, endpoint="GET /x", latency_ms=9.0, failure_kind=None, exemplar=unreadable
    )
    _record(recorder, 7, 5.0, endpoint="GET /x")
    store = Store()
    store.merge(recorder.take_delta())
    bucket = store.buckets[7]["GET /x"]
    assert bucket.requests == 2
    assert [e[:2] for e in bucket.exemplars] == [(5.0, "r5.0")]
