"""When the open model's arrivals are due: evenly spaced at the shape's rate (this
process's share of it), whatever the response times, like wrk2's and k6's
constant-arrival-rate, so the count is exact rather than Poisson-noisy. Pure arithmetic
on the schedule's own clock (seconds from its start); the plugin sleeps until each.

    clock = ArrivalClock(lambda t_s: OPEN["constant-rate"](t_s, config), processes=2)
    clock.next_s()   # 0.0, then 0.05, 0.1, ... (20 rps each of 2 processes); None at the end
"""

from __future__ import annotations

from collections.abc import Callable

# A shape may plan no arrivals for a while (rate 0): look again this much later.
IDLE_STEP_S = 0.05


class ArrivalClock:
    def __init__(self, rate_at: Callable[[float], float | None], *, processes: int = 1) -> None:
        self._rate_at = rate_at
        self._processes = max(processes, 1)
        self._next_s = 0.0
        self._segment_start_s = 0.0
        self._segment_rate = 0.0
        self._in_segment = 0

    def rate_at(self, t_s: float) -> float | None:
        """This process's share of the planned rate at t_s (None: the shape has ended)."""
        total = self._rate_at(t_s)
        return None if total is None else total / self._processes

    def next_s(self) -> float | None:
        """The next arrival's intended start (None: the shape has ended). Within a stretch
        of one rate the n-th arrival is at start + n / rate, computed, not summed, so that
        rounding never adds or drops an arrival at the end."""
        while True:
            at_s = self._next_s
            rate = self.rate_at(at_s)
            if rate is None:
                return None
            if rate > 0:
                break
            self._next_s = at_s + IDLE_STEP_S
            self._segment_rate = 0.0
        if rate != self._segment_rate:
            self._segment_start_s, self._segment_rate, self._in_segment = at_s, rate, 0
        self._in_segment += 1
        self._next_s = self._segment_start_s + self._in_segment / rate
        return at_s
