"""Our named resilience policies: a circuit breaker, a retry budget and a retry policy
(tenacity), combined per dependency in :class:`Guard`.

    breaker = CircuitBreaker("opensearch", window_size=10, failure_rate=0.5,
                             open_duration_s=30.0, half_open_calls=5, clock=clock)
    guard = Guard(breaker=breaker, budget=RetryBudget(...), retry=RetryPolicy(...))
    raw = await guard.call(lambda: client.search(...), timeout_s=0.8,
                           is_transient=opensearch_transient)

The breaker is ours, not purgatory's: purgatory opens after N *consecutive* failures and
closes after one success, while the design asks for a failure *rate* over a sliding window
of the last N calls and several half-open trial calls. The semantics, tested on a fake clock:

* closed: the last ``window_size`` outcomes are kept; once at least ``min_calls`` are
  recorded and the share of failures reaches ``failure_rate``, it opens.
* open: every call is refused (:class:`BreakerOpen`) for ``open_duration_s``; then the
  next call (or a look at ``state``) moves it to half-open.
* half-open: ``half_open_calls`` trial calls are let through, no more; when all of them
  succeed it closes (with an empty window), when one fails it opens again.

Timeouts count as failures; whatever ``is_failure`` says is not a dependency failure
(a 4xx, a validation error) counts as a success for the breaker. A call cancelled from
outside (the request's own deadline, a client gone, shutdown) has no outcome: it is
released, so a half-open trial slot is never lost (five lost ones would keep the breaker
half-open, refusing every call, for good).

``set_testing(True)`` removes the retry sleeps (like stamina's ``set_testing``).

    wait = indexer_backoff(initial_s=0.2, max_s=5.0)
    wait_s = backoff_s(wait, attempt=3)      # 0.8s, capped at 5s, with jitter
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import tenacity
from tenacity.wait import wait_base

log = logging.getLogger("service.resilience")
T = TypeVar("T")
Clock = Callable[[], float]

_testing = False


def set_testing(on: bool) -> None:
    """With ``on``, retries happen without sleeping (tests only)."""
    global _testing
    _testing = on


def is_testing() -> bool:
    return _testing


class BreakerState(enum.Enum):
    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"

    @property
    def gauge_value(self) -> int:
        return {"closed": 0, "half_open": 1, "open": 2}[self.value]


class BreakerOpen(Exception):
    """Raised instead of calling a dependency whose breaker refuses calls."""

    def __init__(self, dependency: str, retry_after_s: float) -> None:
        super().__init__(f"the {dependency} circuit breaker is open")
        self.dependency = dependency
        self.retry_after_s = retry_after_s


Transition = Callable[[str, BreakerState, BreakerState], None]


class CircuitBreaker:
    """Failure-rate breaker over a count-based sliding window (see the module docstring)."""

    def __init__(
        self,
        name: str,
        *,
        window_size: int = 10,
        min_calls: int | None = None,
        failure_rate: float = 0.5,
        open_duration_s: float = 30.0,
        half_open_calls: int = 5,
        clock: Clock = time.monotonic,
        on_transition: Transition | None = None,
    ) -> None:
        self.name = name
        self.window_size = window_size
        self.min_calls = window_size if min_calls is None else min_calls
        self.failure_rate_threshold = failure_rate
        self.open_duration_s = open_duration_s
        self.half_open_calls = half_open_calls
        self._clock = clock
        self._on_transition = on_transition
        self._window: deque[bool] = deque(maxlen=window_size)  # True = failure
        self._state = BreakerState.CLOSED
        self._since = clock()
        self._trials_started = 0
        self._trials_succeeded = 0
        self.last_error: str | None = None

    # -- reading --------------------------------------------------------------------------
    @property
    def state(self) -> BreakerState:
        self._maybe_half_open()
        return self._state

    @property
    def failure_rate(self) -> float:
        return sum(self._window) / len(self._window) if self._window else 0.0

    def time_in_state_s(self) -> float:
        return max(0.0, self._clock() - self._since)

    def retry_after_s(self) -> float:
        if self._state is BreakerState.OPEN:
            return max(0.0, self.open_duration_s - self.time_in_state_s())
        return 0.0

    def snapshot(self) -> dict[str, Any]:
        state = self.state
        return {
            "state": state.value,
            "failure_rate": round(self.failure_rate, 3),
            "calls_in_window": len(self._window),
            "time_in_state_s": round(self.time_in_state_s(), 3),
            "last_error": self.last_error,
        }

    # -- the protocol: acquire, then exactly one of success / failure ------------------------
    def acquire(self) -> None:
        """Lets a call through or raises :class:`BreakerOpen`."""
        self._maybe_half_open()
        if self._state is BreakerState.OPEN:
            raise BreakerOpen(self.name, self.retry_after_s())
        if self._state is BreakerState.HALF_OPEN:
            if self._trials_started >= self.half_open_calls:
                raise BreakerOpen(self.name, 1.0)
            self._trials_started += 1

    def record_success(self) -> None:
        if self._state is BreakerState.HALF_OPEN:
            self._trials_succeeded += 1
            if self._trials_succeeded >= self.half_open_calls:
                self._move(BreakerState.CLOSED)
            return
        if self._state is BreakerState.CLOSED:
            self._window.append(False)

    def record_failure(self, error: str) -> None:
        self.last_error = error
        if self._state is BreakerState.HALF_OPEN:
            self._move(BreakerState.OPEN)
            return
        if self._state is BreakerState.CLOSED:
            self._window.append(True)
            if len(self._window) >= self.min_calls and (
                self.failure_rate >= self.failure_rate_threshold
            ):
                self._move(BreakerState.OPEN)

    def release(self) -> None:
        """A call let through ended without an outcome (cancelled): neither a success nor a
        failure, and its half-open trial slot is free again."""
        if self._state is BreakerState.HALF_OPEN and self._trials_started > 0:
            self._trials_started -= 1

    def reset(self) -> None:
        """Closed, with an empty window: the dependency behind it was replaced (a promoted
        PostgreSQL replica), so the old node's failures say nothing about the new one."""
        if self._state is not BreakerState.CLOSED:
            self._move(BreakerState.CLOSED)
        self._window.clear()

    # -- internals ------------------------------------------------------------------------
    def _maybe_half_open(self) -> None:
        if self._state is BreakerState.OPEN and self._clock() - self._since >= self.open_duration_s:
            self._move(BreakerState.HALF_OPEN)

    def _move(self, to: BreakerState) -> None:
        before = self._state
        self._state = to
        self._since = self._clock()
        self._trials_started = 0
        self._trials_succeeded = 0
        if to is BreakerState.CLOSED:
            self._window.clear()
        log.warning(
            "breaker %s: %s -> %s",
            self.name,
            before.value,
            to.value,
            extra={"event": "breaker_transition", "dependency": self.name,
                   "from": before.value, "to": to.value, "last_error": self.last_error},
        )  # fmt: skip
        if self._on_transition is not None:
            self._on_transition(self.name, before, to)


class RetryBudget:
    """Retries allowed: at most ``ratio`` of the calls seen over the last ``window_s``,
    plus a floor of ``min_retries`` per window so that a quiet service can still retry
    (Finagle's RetryBudget has the same two knobs)."""

    def __init__(
        self,
        *,
        ratio: float = 0.1,
        window_s: float = 10.0,
        min_retries: int = 3,
        clock: Clock = time.monotonic,
    ) -> None:
        self.ratio = ratio
        self.window_s = window_s
        self.min_retries = min_retries
        self._clock = clock
        self._calls: deque[float] = deque()
        self._retries: deque[float] = deque()

    def _trim(self) -> None:
        horizon = self._clock() - self.window_s
        for q in (self._calls, self._retries):
            while q and q[0] < horizon:
                q.popleft()

    def record_call(self) -> None:
        self._calls.append(self._clock())

    def try_spend(self) -> bool:
        """True (and counted) when one more retry fits the budget."""
        self._trim()
        allowed = self.min_retries + self.ratio * len(self._calls)
        if len(self._retries) + 1 > allowed:
            return False
        self._retries.append(self._clock())
        return True


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """Full-jitter exponential backoff: attempt n waits uniform(0, min(max_s, base_s * 2**n))."""

    max_retries: int = 3
    base_s: float = 0.1
    max_s: float = 5.0

    def wait(self) -> wait_base:
        return tenacity.wait_random_exponential(multiplier=self.base_s, max=self.max_s)


@dataclass
class Guard:
    """One dependency's breaker, retry budget, retry policy and metric hooks."""

    breaker: CircuitBreaker
    budget: RetryBudget
    retry: RetryPolicy
    on_call: Callable[[str, float, str], None] = field(default=lambda dep, s, outcome: None)
    on_retry: Callable[[str, BaseException], None] = field(default=lambda dep, exc: None)

    @property
    def name(self) -> str:
        return self.breaker.name

    @contextlib.asynccontextmanager
    async def track(
        self,
        *,
        is_failure: Callable[[BaseException], bool],
        is_ignored: Callable[[BaseException], bool] = lambda exc: False,
    ) -> AsyncIterator[None]:
        """The breaker around one call (an attempt of :meth:`call`, or a block that cannot
        be retried, such as a write transaction). What ``is_ignored`` accepts counts as
        neither a failure nor a success (Resilience4j's ignoreExceptions); the metrics
        still record it as a timeout or an error."""
        self.breaker.acquire()
        started = time.perf_counter()
        try:
            yield
        except Exception as exc:
            if is_ignored(exc):
                self.breaker.release()
                timed_out = isinstance(exc.__cause__, TimeoutError)
                self.on_call(
                    self.name, time.perf_counter() - started, "timeout" if timed_out else "error"
                )
                raise
            if isinstance(exc, TimeoutError):
                self.breaker.record_failure("timeout")
                self.on_call(self.name, time.perf_counter() - started, "timeout")
                raise
            if is_failure(exc):
                self.breaker.record_failure(f"{type(exc).__name__}: {exc}"[:200])
                self.on_call(self.name, time.perf_counter() - started, "error")
            else:
                self.breaker.record_success()
                self.on_call(self.name, time.perf_counter() - started, "ok")
            raise
        except BaseException:  # cancelled: no outcome
            self.breaker.release()
            raise
        self.breaker.record_success()
        self.on_call(self.name, time.perf_counter() - started, "ok")

    async def call(
        self,
        fn: Callable[[], Awaitable[T]],
        *,
        timeout_s: float,
        deadline_s: float | None = None,
        is_transient: Callable[[BaseException], bool] = lambda exc: False,
        is_failure: Callable[[BaseException], bool] | None = None,
    ) -> T:
        """Calls ``fn`` through the breaker with a per-attempt timeout, retrying what
        ``is_transient`` accepts while the budget, ``max_retries`` and ``deadline_s`` allow.

        ``is_failure`` decides what the breaker counts besides timeouts (default: the
        transient failures); anything else, such as a 4xx, passes through, never retried.
        """
        counts = is_failure or is_transient
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (deadline_s if deadline_s is not None else float("inf"))
        self.budget.record_call()

        async def attempt() -> T:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"{self.name}: deadline exceeded")
            async with self.track(is_failure=counts):
                # asyncio.timeout, not wait_for: no task of its own per call (Python 3.11)
                async with asyncio.timeout(min(timeout_s, remaining)):
                    return await fn()

        # The first attempt runs without tenacity (most calls succeed: building the retry
        # machinery for each was ~9% of a cached search's CPU). A failure that may be
        # retried is replayed as tenacity's first attempt, so should_retry below decides
        # (and spends the budget) exactly once, as before.
        try:
            return await attempt()
        except Exception as exc:
            if self.retry.max_retries == 0 or isinstance(exc, BreakerOpen) or not is_transient(exc):
                raise
            first_failure: Exception | None = exc

        def should_retry(state: tenacity.RetryCallState) -> bool:
            outcome = state.outcome
            if outcome is None or not outcome.failed:
                return False
            exc = outcome.exception()
            assert exc is not None
            if isinstance(exc, BreakerOpen) or not is_transient(exc):
                return False
            if deadline - loop.time() <= 0 or not self.budget.try_spend():
                return False
            self.on_retry(self.name, exc)
            log.info(
                "retrying %s after %s (attempt %d)", self.name, type(exc).__name__,
                state.attempt_number,
                extra={"event": "retry", "dependency": self.name},
            )  # fmt: skip
            return True

        base_wait = self.retry.wait()

        def wait(state: tenacity.RetryCallState) -> float:
            if _testing:
                return 0.0
            return max(0.0, min(float(base_wait(state)), deadline - loop.time()))

        retrying = tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(self.retry.max_retries + 1),
            wait=wait,
            retry=should_retry,
            reraise=True,
        )

        async def replay_then_attempt() -> T:
            nonlocal first_failure
            if first_failure is not None:
                failure, first_failure = first_failure, None
                raise failure
            return await attempt()

        return await retrying(replay_then_attempt)


def indexer_backoff(*, initial_s: float, max_s: float) -> wait_base:
    """Exponential from ``initial_s``, doubled each attempt, capped at ``max_s``, jittered."""
    return tenacity.wait_exponential_jitter(multiplier=initial_s, max=max_s, jitter=initial_s / 2)


def backoff_s(wait: wait_base, *, attempt: int) -> float:
    state = tenacity.RetryCallState(
        retry_object=tenacity.AsyncRetrying(), fn=None, args=(), kwargs={}
    )
    state.attempt_number = attempt
    return float(wait(state))
