"""The capacity search on a fake judge: a service that holds `limit_rps`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from gameday.load.capacity import (
    CapacityReport,
    StepRecord,
    confidence,
    find_capacity,
    rate_verdicts,
)
from gameday.report.capacity import how_sure, render_capacity_html


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


def make_report(**fields: Any) -> CapacityReport:
    """A finished search's report: these fields over a 5 s, 10% search that broke an
    objective (the rates' bounds are not what the page shows)."""
    defaults: dict[str, Any] = {
        "scenario": "search_mix",
        "target_url": "http://127.0.0.1:1",
        "slo_source": "slo.yaml",
        "start_rps": 10,
        "max_rps": 200,
        "step_duration_s": 5,
        "resolution_pct": 10,
        "lower_bound": False,
        "stopped_because": "objective_broke",
    }
    return CapacityReport(**{**defaults, **fields})


def test_the_page_is_self_contained_and_marks_the_knee() -> None:
    report = make_report(
        capacity_rps=20,
        capacity_achieved_rps=19.8,
        first_failing_rps=40,
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


def scripted(limit_rps: float, flips: dict[float, list[bool]]) -> tuple[list[float], Any]:
    """A service that holds `limit_rps`, except that the runs of a rate in `flips` come
    out as listed there, in order (a noisy step near the knee)."""
    asked: list[float] = []

    def measure(rate: float) -> Fake:
        asked.append(rate)
        script = flips.get(rate)
        return Fake(passed=script.pop(0) if script else rate <= limit_rps)

    return asked, measure


def test_with_repeats_the_deciding_rates_are_run_that_often_and_judged_by_majority() -> None:
    asked, measure = scripted(100, {110: [False, True]})  # one lucky pass at 110
    search = find_capacity(measure, start_rps=10, max_rps=1000, resolution_pct=10, repeats=3)
    assert asked == [10, 20, 40, 80, 160, 120, 100, 110, 100, 100, 110, 110]
    assert search.capacity_rps == 100 and search.first_failing_rps == 110
    assert [p for r, p, _ in search.steps if r in (100, 110)][-4:] == ["confirm"] * 4
    assert search.holds(100) and not search.holds(110)
    assert search.stopped_because == "objective_broke"


def test_a_lucky_capacity_is_demoted_to_the_next_rate_below_that_holds() -> None:
    # 120 passes once by luck (the true limit is 100), then fails its confirmations
    asked, measure = scripted(100, {120: [True, False, False]})
    search = find_capacity(measure, start_rps=10, max_rps=1000, resolution_pct=10, repeats=3,
                           max_steps=30)  # fmt: skip
    assert search.capacity_rps == 100 and search.first_failing_rps == 110, asked
    assert not search.holds(120) and search.holds(100)
    assert len(search.runs(100)) == 3 and len(search.runs(110)) == 3


def test_an_unlucky_first_failure_sends_the_search_up_again() -> None:
    # 160 fails once by bad luck (the true limit is 200), then passes its confirmations
    asked, measure = scripted(200, {160: [False, True, True]})
    search = find_capacity(measure, start_rps=10, max_rps=1000, resolution_pct=10, repeats=3,
                           max_steps=40)  # fmt: skip
    assert search.holds(160) and search.capacity_rps is not None
    assert search.capacity_rps <= 200 < (search.first_failing_rps or 0), asked
    assert search.stopped_because == "objective_broke"


def test_repeats_of_one_are_the_single_sample_search() -> None:
    one, measure = judge(limit_rps=100)
    find_capacity(measure, start_rps=10, max_rps=1000, repeats=1)
    assert one == [10, 20, 40, 80, 160, 120, 100, 110]


@pytest.mark.parametrize(
    ("agreeing", "runs", "expected"),
    [(1, 1, 0.5), (2, 2, 0.75), (3, 3, 0.875), (2, 3, 0.5), (5, 5, 0.96875)],
)
def test_confidence_is_the_chance_that_a_coin_would_not_agree_as_often(
    agreeing: int, runs: int, expected: float
) -> None:
    assert confidence(agreeing, runs) == pytest.approx(expected)


def test_each_rate_gets_its_majority_and_the_page_says_how_sure() -> None:
    steps = [
        make_step(1, 100, passed=True, p99_ms=30),
        make_step(2, 110, passed=True, p99_ms=60),  # lucky
        make_step(3, 110, passed=False, p99_ms=300),
        make_step(4, 110, passed=False, p99_ms=330),
        make_step(5, 100, passed=True, p99_ms=45),
        make_step(6, 100, passed=True, p99_ms=36),
        make_step(7, 120, passed=True, p99_ms=75),  # above a failing rate: not monotonic
    ]
    rates = {v.rate_rps: v for v in rate_verdicts(steps)}
    assert [(v.runs, v.passes, v.holds) for v in rates.values()] == [
        (3, 3, True),
        (3, 1, False),
        (1, 1, True),
    ]
    assert rates[100].confidence == pytest.approx(0.875)  # 3 of 3 held
    assert rates[110].confidence == pytest.approx(0.5)  # 2 of 3 failed
    assert (rates[100].p95_min_ms, rates[100].p95_max_ms) == (20, 30)
    report = make_report(
        capacity_rps=100,
        capacity_achieved_rps=99,
        first_failing_rps=110,
        repeats=3,
        rates=list(rates.values()),
        monotonic=False,
        steps=steps,
    )
    sure = how_sure(report)
    assert sure.startswith(
        "100 rps held 3 of 3 runs (88% sure); 110 rps failed 2 of 3 runs (50% sure)"
    )
    assert "not monotonic" in sure
    html = render_capacity_html(report)
    assert "between <b>100</b> and <b>110</b> rps" in html and "88% sure" in html
