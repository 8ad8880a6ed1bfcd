"""The guard's retries: only transient failures, at most 3, within the budget and the
deadline; a timeout counts as a breaker failure; a 4xx is neither retried nor counted.
Sleeps are removed by ``set_testing``; the budget runs on a fake clock."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.exceptions import RequestError, TransportError

from service.deps.guards import opensearch_transient
from service.resilience import (
    BreakerOpen,
    BreakerState,
    CircuitBreaker,
    Guard,
    RetryBudget,
    RetryPolicy,
    set_testing,
)


@pytest.fixture(autouse=True)
def no_sleeps() -> Iterator[None]:
    set_testing(True)
    yield
    set_testing(False)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make_guard(*, budget: RetryBudget | None = None, retries: list[str] | None = None) -> Guard:
    seen = retries if retries is not None else []
    return Guard(
        breaker=CircuitBreaker("opensearch", window_size=10, open_duration_s=30),
        budget=budget or RetryBudget(ratio=0.1, window_s=10, min_retries=100),
        retry=RetryPolicy(max_retries=3, base_s=0.1, max_s=5.0),
        on_retry=lambda dep, exc: seen.append(type(exc).__name__),
    )


class Flaky:
    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


async def test_a_transient_failure_is_retried_until_it_succeeds() -> None:
    retries: list[str] = []
    flaky = Flaky([OpenSearchConnectionError("N/A", "reset", None)] * 2)
    result = await make_guard(retries=retries).call(
        flaky, timeout_s=1.0, is_transient=opensearch_transient
    )
    assert result == "ok" and flaky.calls == 3
    assert retries == ["ConnectionError", "ConnectionError"]


async def test_at_most_three_retries() -> None:
    flaky = Flaky([TransportError(503, "unavailable", {})] * 10)
    with pytest.raises(TransportError):
        await make_guard().call(flaky, timeout_s=1.0, is_transient=opensearch_transient)
    assert flaky.calls == 4


@pytest.mark.parametrize("status", [400, 401, 403, 404], ids=lambda s: f"http-{s}")
async def test_a_4xx_is_never_retried_nor_counted_by_the_breaker(status: int) -> None:
    guard = make_guard()
    flaky = Flaky([RequestError(status, "bad query", {})])
    with pytest.raises(RequestError):
        await guard.call(flaky, timeout_s=1.0, is_transient=opensearch_transient)
    assert flaky.calls == 1
    assert guard.breaker.failure_rate == 0.0


async def test_429_is_transient() -> None:
    flaky = Flaky([TransportError(429, "too many requests", {})])
    assert await make_guard().call(flaky, timeout_s=1.0, is_transient=opensearch_transient)
    assert flaky.calls == 2


async def test_a_timeout_is_a_breaker_failure() -> None:
    guard = make_guard()

    async def slow() -> str:
        await asyncio.sleep(1.0)
        return "late"

    # Each attempt times out (1 ms); no request deadline: a 1 ms deadline could pass on a
    # busy machine before the attempt starts, which is not a call and not a failure.
    for _ in range(10):
        with pytest.raises(TimeoutError):
            await guard.call(slow, timeout_s=0.001, is_transient=lambda e: False)
    assert guard.breaker.state is BreakerState.OPEN
    with pytest.raises(BreakerOpen):
        await guard.call(slow, timeout_s=0.001, is_transient=lambda e: False)


async def test_the_budget_stops_retries_beyond_ten_percent_of_calls() -> None:
    clock = FakeClock()
    budget = RetryBudget(ratio=0.1, window_s=10, min_retries=0, clock=clock)
    for _ in range(20):
        budget.record_call()
    assert budget.try_spend() and budget.try_spend()
    assert not budget.try_spend()  # 2 retries for 20 calls
    clock.now = 11.0  # the window has moved on
    assert not budget.try_spend()  # and no calls in it: nothing to retry
    for _ in range(10):
        budget.record_call()
    assert budget.try_spend()


async def test_an_exhausted_budget_means_the_failure_is_returned_at_once() -> None:
    budget = RetryBudget(ratio=0.0, window_s=10, min_retries=0, clock=FakeClock())
    flaky = Flaky([OpenSearchConnectionError("N/A", "reset", None)])
    with pytest.raises(OpenSearchConnectionError):
        await make_guard(budget=budget).call(
            flaky, timeout_s=1.0, is_transient=opensearch_transient
        )
    assert flaky.calls == 1


def test_full_jitter_waits_stay_between_zero_and_the_cap() -> None:
    import tenacity

    wait = RetryPolicy(base_s=0.1, max_s=5.0).wait()
    for attempt, cap in ((1, 0.1), (2, 0.2), (3, 0.4), (10, 5.0)):  # base * 2**(n-1)
        state = tenacity.RetryCallState(
            retry_object=tenacity.AsyncRetrying(), fn=None, args=(), kwargs={}
        )
        state.attempt_number = attempt
        samples = [float(wait(state)) for _ in range(200)]
        assert all(0 <= s <= cap for s in samples)
        assert max(samples) > cap / 2  # jittered over the whole range, not a constant


@pytest.mark.parametrize("how", ["call", "track"])
async def test_calls_cancelled_from_outside_never_keep_the_breaker_half_open(how: str) -> None:
    """The request's own deadline cancels a slow trial call: five such calls must not use
    up the half-open trials (the breaker would refuse every call from then on)."""
    clock = FakeClock()
    guard = make_guard()
    guard.breaker = CircuitBreaker("opensearch", window_size=10, open_duration_s=30, clock=clock)
    for _ in range(10):
        guard.breaker.acquire()
        guard.breaker.record_failure("boom")
    clock.now += 30  # half-open from here

    async def hang() -> str:
        await asyncio.sleep(10)
        return "late"

    async def through_guard() -> str:
        if how == "call":
            return await guard.call(hang, timeout_s=5.0)
        async with guard.track(is_failure=lambda exc: True):
            return await hang()

    for _ in range(5):
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):  # the request deadline, outside the guard
                await through_guard()
    assert guard.breaker.state is BreakerState.HALF_OPEN
    assert await guard.call(Flaky([]), timeout_s=1.0) == "ok"  # a trial is let through


async def test_an_ignored_failure_is_neither_a_failure_nor_a_success_of_the_breaker() -> None:
    """Resilience4j's ignoreExceptions: the relay's move to another broker of a cluster."""
    guard = make_guard()
    outcomes: list[str] = []
    guard.on_call = lambda dep, s, outcome: outcomes.append(outcome)

    class Ignored(Exception):
        pass

    for _ in range(20):
        with pytest.raises(Ignored):
            async with guard.track(is_failure=lambda exc: True, is_ignored=lambda exc: True):
                raise Ignored("moved on") from TimeoutError()
    assert guard.breaker.state is BreakerState.CLOSED
    assert guard.breaker.snapshot()["calls_in_window"] == 0, guard.breaker.snapshot()
    assert outcomes == ["timeout"] * 20  # the metrics still see what happened
    for _ in range(10):  # the same exception, not ignored, opens it
        with pytest.raises(Ignored):
            async with guard.track(is_failure=lambda exc: True):
                raise Ignored("counted")
    assert guard.breaker.state is BreakerState.OPEN
