"""The live progress line counts errors as the report does (issue 14): a 4xx
answer is shown apart, never as an error. A write-heavy run whose only failures
were 4xx showed `errors 0.40%` live and 0.00% in the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gameday.load.capture_model import Recorder, Store
from gameday.load.config import LoadConfig
from gameday.load.engine import LiveStats, read_live
from gameday.load.rundir import LiveView, write_histograms, write_timeseries
from gameday.report import load_run
from gameday.report.figures import measure

START = 1_800_000_000
SECONDS = 10
PER_SECOND = 250


def _store(failures: dict[int, str]) -> Store:
    """SECONDS seconds of PER_SECOND requests; request i of each second fails as
    failures[i] says."""
    recorder = Recorder()
    for second in range(START, START + SECONDS):
        for i in range(PER_SECOND):
            recorder.record(
                second=second,
                endpoint="PUT /v1/documents/{id}",
                latency_ms=10.0 + i % 7,
                failure_kind=failures.get(i),
                request_id=f"r{second}-{i}",
                exemplar=lambda: {"status": 200},
            )
    store = Store()
    store.merge(recorder.take_delta())
    return store


def _live(store: Store, run_dir: Path) -> LiveStats:
    snapshot = LiveView(store, START).snapshot(START + SECONDS)
    (run_dir / "live.json").write_text(json.dumps(snapshot))
    return read_live(run_dir, LoadConfig(target_rps=PER_SECOND, shape="constant-rate"), 10.0)


def _report_error_rate_pct(store: Store, run_dir: Path) -> float:
    write_timeseries(store, START, START + SECONDS - 1, run_dir)
    write_histograms(store, START, START + SECONDS - 1, run_dir)
    return measure(load_run(run_dir), "ALL", 0, SECONDS).error_rate_pct


def test_4xx_answers_are_shown_apart_not_as_errors(tmp_path: Path) -> None:
    live = _live(_store({0: "fail_4xx"}), tmp_path)  # 1 in 250: 0.40%
    assert live.error_rate == 0.0
    assert live.client_error_rate == pytest.approx(0.004)
    assert live.describe() == "250 rps  p95 16 ms  errors 0.00%  4xx 0.40%  total 2500"


def test_server_errors_connection_failures_and_timeouts_are_errors(tmp_path: Path) -> None:
    live = _live(_store({0: "fail_5xx", 1: "fail_connection", 2: "fail_timeout"}), tmp_path)
    assert live.error_rate == pytest.approx(3 / PER_SECOND)
    assert live.client_error_rate == 0.0
    assert "errors 1.20%  4xx 0.00%" in live.describe()


def test_the_live_line_and_the_report_agree_on_the_error_rate(tmp_path: Path) -> None:
    store = _store({0: "fail_4xx", 1: "fail_4xx", 2: "fail_5xx", 3: "fail_timeout"})
    live = _live(store, tmp_path)
    assert 100.0 * live.error_rate == pytest.approx(_report_error_rate_pct(store, tmp_path))
    assert live.error_rate == pytest.approx(2 / PER_SECOND)
    assert live.client_error_rate == pytest.approx(2 / PER_SECOND)


def test_live_json_carries_errors_and_4xx_per_second() -> None:
    store = _store({0: "fail_4xx", 1: "fail_5xx"})
    second = LiveView(store, START).snapshot(START + SECONDS)["seconds"][0]
    assert (second["failures"], second["errors"], second["fail_4xx"]) == (2, 1, 1)


def test_before_live_json_exists_the_line_says_nothing_failed(tmp_path: Path) -> None:
    live = read_live(tmp_path, LoadConfig(users=1), 0.5)
    assert live.describe() == "0 rps  p95 -  errors 0.00%  4xx 0.00%  total 0"
