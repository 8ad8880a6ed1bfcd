"""The circuit breaker's semantics on a fake clock: 50% of the last 10 calls, open 30 s,
5 half-open trials, close when they succeed, reopen when one fails."""

from __future__ import annotations

import pytest

from service.resilience import BreakerOpen, BreakerState, CircuitBreaker


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


Transitions = list[tuple[str, str]]


def make_breaker(clock: FakeClock, transitions: Transitions | None = None) -> CircuitBreaker:
    log = transitions if transitions is not None else []
    return CircuitBreaker(
        "opensearch",
        window_size=10,
        failure_rate=0.5,
        open_duration_s=30.0,
        half_open_calls=5,
        clock=clock,
        on_transition=lambda name, a, b: log.append((a.value, b.value)),
    )


def call(breaker: CircuitBreaker, *, ok: bool) -> None:
    breaker.acquire()
    if ok:
        breaker.record_success()
    else:
        breaker.record_failure("boom")


def trip(breaker: CircuitBreaker) -> None:
    for i in range(10):
        call(breaker, ok=i % 2 == 0)  # 5 failures in 10 calls: exactly 50%
    assert breaker.state is BreakerState.OPEN


def test_it_stays_closed_below_half_of_the_last_ten_calls_failing() -> None:
    breaker = make_breaker(FakeClock())
    for i in range(10):
        call(breaker, ok=i % 5 != 0 or i == 0)  # 1 failure in 10
    for _ in range(3):
        call(breaker, ok=False)  # 4 failures in the last 10
    assert breaker.state is BreakerState.CLOSED
    assert breaker.failure_rate == pytest.approx(0.4)


def test_it_opens_when_half_of_the_last_ten_calls_failed() -> None:
    transitions: Transitions = []
    breaker = make_breaker(FakeClock(), transitions)
    trip(breaker)
    assert transitions == [("closed", "open")]


def test_it_needs_a_full_window_before_judging() -> None:
    breaker = make_breaker(FakeClock())
    for _ in range(9):
        call(breaker, ok=False)
    assert breaker.state is BreakerState.CLOSED
    call(breaker, ok=False)
    assert breaker.state is BreakerState.OPEN


def test_old_failures_slide_out_of_the_window() -> None:
    breaker = make_breaker(FakeClock())
    for _ in range(4):
        call(breaker, ok=False)
    for _ in range(20):
        call(breaker, ok=True)
    for _ in range(4):
        call(breaker, ok=False)
    assert breaker.state is BreakerState.CLOSED


def test_an_open_breaker_refuses_calls_until_the_open_duration_has_passed() -> None:
    clock = FakeClock()
    breaker = make_breaker(clock)
    trip(breaker)
    clock.advance(29.9)
    with pytest.raises(BreakerOpen) as refused:
        breaker.acquire()
    assert refused.value.retry_after_s == pytest.approx(0.1)
    clock.advance(0.1)
    assert breaker.state is BreakerState.HALF_OPEN


def test_half_open_lets_exactly_five_trials_through() -> None:
    clock = FakeClock()
    breaker = make_breaker(clock)
    trip(breaker)
    clock.advance(30)
    for _ in range(5):
        breaker.acquire()
    with pytest.raises(BreakerOpen):
        breaker.acquire()


def test_five_successful_trials_close_it() -> None:
    clock = FakeClock()
    transitions: Transitions = []
    breaker = make_breaker(clock, transitions)
    trip(breaker)
    clock.advance(30)
    for i in range(5):
        call(breaker, ok=True)
        assert breaker.state is (BreakerState.CLOSED if i == 4 else BreakerState.HALF_OPEN)
    assert transitions == [("closed", "open"), ("open", "half_open"), ("half_open", "closed")]
    assert breaker.failure_rate == 0.0  # a fresh window after closing


def test_one_failed_trial_reopens_it_for_another_open_duration() -> None:
    clock = FakeClock()
    transitions: Transitions = []
    breaker = make_breaker(clock, transitions)
    trip(breaker)
    clock.advance(30)
    call(breaker, ok=True)
    call(breaker, ok=False)
    assert breaker.state is BreakerState.OPEN
    clock.advance(29)
    assert breaker.state is BreakerState.OPEN
    clock.advance(1)
    assert breaker.state is BreakerState.HALF_OPEN
    assert transitions[-2:] == [("half_open", "open"), ("open", "half_open")]


def test_the_snapshot_reports_state_rate_and_time_in_state() -> None:
    clock = FakeClock()
    breaker = make_breaker(clock)
    trip(breaker)
    clock.advance(12.5)
    snapshot = breaker.snapshot()
    assert snapshot["state"] == "open"
    assert snapshot["failure_rate"] == 0.5
    assert snapshot["time_in_state_s"] == 12.5
    assert snapshot["last_error"] == "boom"


def test_a_released_trial_frees_its_slot_and_judges_nothing() -> None:
    clock = FakeClock()
    breaker = make_breaker(clock)
    trip(breaker)
    clock.advance(30)
    for _ in range(5):
        breaker.acquire()
        breaker.release()  # five cancelled trials
    for _ in range(5):  # still five trials to come, and they close it
        call(breaker, ok=True)
    assert breaker.state is BreakerState.CLOSED
