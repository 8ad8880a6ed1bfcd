"""The capacity search on a fake judge: a service that holds `limit_rps`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from gameday.load.capacity import CapacityReport, StepRecord, find_capacity
from gameday.report.capacity import render_capacity_html


@dataclass(frozen=True)
class Fake:
    passed: bool
    generator_valid: bool = True


def judge(
    limit_rps: float, generator_limit_rps: float = float("inf")
) -> tuple[list[float], Callable[[float], Fake]]:
    asked: list[float] = []

    def measure(rate: float) -> Fake:
        asked.append(rate)
        return Fake(passed=rate <= limit_rps, generator_valid=rate <= generator_limit_rps)

    return asked, measure


def test_it_doubles_then_bisects_to_the_resolution() -> None:
    asked, measure = judge(limit_rps=100)
    search = find_capacity(measure, start_rps=10, max_rps=1000, resolution_pct=10)
    assert asked == [10, 20, 40, 80, 160, 120, 100, 110]
    assert search.capacity_rps == 100 and search.first_failing_rps == 110
    assert search.stopped_because == "objective_broke" and not search.lower_bound
    assert [phase for _, phase, _ in search.steps] == ["climb"] * 5 + ["bisect"] * 3


@pytest.mark.parametrize(
    ("limit", "resolution_pct"),
    [(13, 10), (57, 10), (333, 5), (999, 1)],
    ids=["just-above-start", "mid", "fine", "near-max"],
)
def test_the_capacity_found_is_within_the_resolution_below_the_true_limit(
    limit: float, resolution_pct: float
) -> None:
    _, measure = judge(limit_rps=limit)
    search = find_capacity(
        measure, start_rps=10, max_rps=1000, resolution_pct=resolution_pct, max_steps=30
    )
    assert search.capacity_rps is not None and search.first_failing_rps is not None
    assert search.capacity_rps <= limit < search.first_failing_rps
    gap = search.first_failing_rps - search.capacity_rps
    assert gap <= search.capacity_rps * resolution_pct / 100 + 0.1  # rates round to 0.1


def test_the_max_rate_is_tried_once_and_passing_it_is_a_lower_bound() -> None:
    asked, measure = judge(limit_rps=10_000)
    search = find_capacity(measure, start_rps=10, max_rps=50)
    assert asked == [10, 20, 40, 50]
    assert search.capacity_rps == 50 and search.stopped_because == "max_rate_met"
    assert search.lower_bound


def test_a_failing_start_rate_finds_no_capacity() -> None:
    asked, measure = judge(limit_rps=5)
    search = find_capacity(measure, start_rps=10, max_rps=100)
    assert asked == [10]
    assert search.capacity_rps is None and search.stopped_because == "start_rate_failed"


def test_it_stops_when_the_generator_saturates_and_keeps_the_last_good_rate() -> None:
    asked, measure = judge(limit_rps=10_000, generator_limit_rps=50)
    search = find_capacity(measure, start_rps=10, max_rps=1000)
    assert asked == [10, 20, 40, 80]
    assert search.capacity_rps == 40 and search.stopped_because == "generator_saturated"
    assert search.lower_bound


def test_it_never_runs_more_than_max_steps() -> None:
    asked, measure = judge(limit_rps=101)
    search = find_capacity(measure, start_rps=1, max_rps=1000, resolution_pct=0.1, max_steps=9)
    assert len(asked) == 9 and search.stopped_because == "max_steps"


def test_start_above_max_is_refused() -> None:
    with pytest.raises(ValueError, match="start_rps <= max_rps"):
        find_capacity(lambda r: Fake(True), start_rps=100, max_rps=10)


def make_step(index: int, rate: float, *, passed: bool, p99_ms: float = 30.0) -> StepRecord:
    return StepRecord(
        index=index,
        phase="climb",
        rate_rps=rate,
        run_dir=f"steps/{index:02d}-{rate:g}rps",
        verdict="pass" if passed else "fail",
        passed=passed,
        generator_valid=True,
        achieved_rps=rate * 0.99,
        count=int(rate * 5),
        error_rate_pct=0.0,
        p50_ms=p99_ms / 3,
        p95_ms=p99_ms / 1.5,
        p99_ms=p99_ms,
        violated=[] if passed else ["overall p95 latency [run]: 90 ms (target <= 40 ms)"],
    )


def test_the_page_is_self_contained_and_marks_the_knee() -> None:
    report = CapacityReport(
        scenario="search_mix",
        target_url="http://127.0.0.1:1",
        slo_source="slo.yaml",
        start_rps=10,
        max_rps=80,
        step_duration_s=5,
        resolution_pct=10,
        capacity_rps=20,
        capacity_achieved_rps=19.8,
        first_failing_rps=40,
        lower_bound=False,
        stopped_because="objective_broke",
        steps=[
            make_step(1, 10, passed=True),
            make_step(2, 20, passed=True),
            make_step(3, 40, passed=False, p99_ms=300),
        ],
    )
    html = render_capacity_html(report)
    assert "capacity 20 rps" in html and "knee: 20 rps scheduled" in html
    assert html.count("<svg") == 1 and "<script" not in html.lower()
    assert "http://" not in html.replace("http://127.0.0.1:1", "")
