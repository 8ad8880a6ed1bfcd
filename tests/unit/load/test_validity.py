from __future__ import annotations

from typing import Any

import pytest

from gameday.load.validity import LAG_LIMIT_MS, CpuSpans, LoopLag, invalid_reasons


def _reasons(**overrides: Any) -> list[str]:
    healthy: dict[str, Any] = {
        "cpu_over_limit_s": 0,
        "lag_over_limit_s": {"local": 0},
        "workers_lost": 0,
        "achieved": 1.0,
        "failure_ratio": 0.0,
        "finished": True,
    }
    return invalid_reasons(**{**healthy, **overrides})


def test_a_generator_that_kept_up_has_no_reason_to_be_invalid() -> None:
    assert _reasons() == []


@pytest.mark.parametrize(
    ("seconds", "invalid"), [(2, False), (3, True), (12, True)], ids=["2s", "3s", "12s"]
)
def test_three_seconds_above_the_cpu_limit_make_the_generator_invalid(
    seconds: int, invalid: bool
) -> None:
    reasons = _reasons(cpu_over_limit_s=seconds)
    assert reasons == (
        [f"a generator process was above 90% CPU for {seconds} s"] if invalid else []
    )


def test_one_process_with_late_timers_for_three_seconds_was_starved() -> None:
    [reason] = _reasons(lag_over_limit_s={"w1": 3, "w2": 0})
    assert reason.startswith("a generator process was starved of CPU")
    assert "late in 3 s" in reason


def test_late_timers_spread_over_processes_do_not_add_up() -> None:
    # each worker's start-up stall is one second; two of them are not a starved process
    assert _reasons(lag_over_limit_s={"w1": 2, "w2": 2}) == []


def test_a_lost_worker_makes_the_generator_invalid() -> None:
    assert _reasons(workers_lost=1) == ["1 worker(s) lost"]


def test_a_low_achieved_rate_while_the_service_answered_is_the_generators_fault() -> None:
    assert _reasons(achieved=0.72) == [
        "achieved 72.0% of the target rate while the service answered: the generator fell behind"
    ]


@pytest.mark.parametrize(
    "overrides",
    [
        {"achieved": 0.72, "failure_ratio": 0.05},
        {"achieved": 0.72, "failure_ratio": None},
        {"achieved": 0.72, "finished": False},
        {"achieved": None},
        {"achieved": 0.95},
    ],
    ids=["service-failing", "nothing-sent", "still-running", "closed-model", "at-the-limit"],
)
def test_a_low_achieved_rate_is_not_blamed_on_the_generator_otherwise(
    overrides: dict[str, Any],
) -> None:
    assert _reasons(**overrides) == []


def test_loop_lag_counts_each_late_second_once_and_only_over_the_limit() -> None:
    lag = LoopLag()
    lag.note(second=100, lag_ms=LAG_LIMIT_MS)  # at the limit: not late
    lag.note(second=101, lag_ms=250.0)
    lag.note(second=101, lag_ms=240.0)  # the same second again
    lag.note(second=102, lag_ms=101.0)
    assert lag.take() == (2, 250.0)
    assert lag.take() == (0, 0.0)  # taken: the next report starts afresh
    lag.note(second=102, lag_ms=300.0)  # a second already counted
    lag.note(second=103, lag_ms=5.0)
    assert lag.take() == (0, 300.0)


def test_workers_that_never_connected_are_named_as_such_not_as_lost() -> None:
    reasons = _reasons(workers_expected=32, workers_never_connected=3, ready_timeout_s=60)
    assert reasons == ["3 of 32 worker(s) never connected within 60 s: the load did not start"]


def test_workers_not_ready_when_the_wait_ended_make_the_generator_invalid() -> None:
    [reason] = _reasons(workers_expected=8, workers_not_ready=2, ready_timeout_s=60)
    assert reason.startswith("2 of 8 worker(s) were not ready within 60 s")


def test_the_cpu_share_is_cpu_seconds_over_at_least_one_second_of_wall_clock() -> None:
    cpu = CpuSpans()
    assert cpu.note("w1", wall_s=100.0, cpu_s=3.0) is None  # the first sample: a reference
    # 20 ms of CPU seen 10 ms later (a tick's rounding): not judged, the span goes on
    assert cpu.note("w1", wall_s=100.01, cpu_s=3.02) is None
    assert cpu.note("w1", wall_s=103.0, cpu_s=5.85) == pytest.approx(95.0)
    assert cpu.max_pct == pytest.approx(95.0)
    assert cpu.over_limit_s == {"w1": 3}


def test_cpu_shares_are_per_process_and_under_the_limit_count_no_second() -> None:
    cpu = CpuSpans()
    for process, used_s in (("w1", 0.5), ("w2", 0.25)):
        cpu.note(process, wall_s=0.0, cpu_s=0.0)
        cpu.note(process, wall_s=1.0, cpu_s=used_s)
    assert cpu.max_pct == pytest.approx(50.0)
    assert cpu.over_limit_s == {}


def test_a_lost_workers_missing_share_is_not_called_falling_behind() -> None:
    assert _reasons(workers_lost=1, achieved=0.55) == ["1 worker(s) lost"]
