"""Whether the load generator, not the service, limited a run: the checks behind
run.json's `generator.valid` and its `reasons`.

No Locust here: the capture plugin (gameday/plugin/capture.py) feeds these what it sees in
the Locust processes, and unit tests feed them numbers.

    lag = LoopLag()                                  # in each process that sends load
    lag.note(second=1764500000, lag_ms=240.0)        # a 0.1 s timer that woke 240 ms late
    over_s, worst_ms = lag.take()                    # (1, 240.0), shipped to the master
    invalid_reasons(cpu_over_limit_s=0, lag_over_limit_s={"local": 4}, workers_lost=0,
                    achieved=1.0, failure_ratio=0.0, finished=True)
    # ['a generator process was starved of CPU: its timers ran over 100 ms late in 4 s ...']
"""

from __future__ import annotations

from collections.abc import Mapping

CPU_LIMIT_PCT = 90.0
# A load-sending process whose timers run this late stalls its own requests: in the
# open model that wait is charged to the service as latency (measured from the
# intended start), so the run would blame the service for the generator.
LAG_LIMIT_MS = 100.0
LAG_PROBE_S = 0.1  # how often each load-sending process checks its timers
SUSTAINED_S = 3  # a limit must be exceeded this long (one GC pause is not a bottleneck)
ACHIEVED_MIN = 0.95
SERVICE_HEALTHY_MAX_FAILURE_RATIO = 0.05


class LoopLag:
    """One process's timer lateness: the seconds in which a timer woke more than
    LAG_LIMIT_MS late (each second counted once), and the worst lateness, since the
    last `take`."""

    def __init__(self) -> None:
        self._counted: set[int] = set()
        self._new_over_s = 0
        self._worst_ms = 0.0

    def note(self, *, second: int, lag_ms: float) -> None:
        self._worst_ms = max(self._worst_ms, lag_ms)
        if lag_ms > LAG_LIMIT_MS and second not in self._counted:
            self._counted.add(second)
            self._new_over_s += 1

    def take(self) -> tuple[int, float]:
        taken = (self._new_over_s, round(self._worst_ms, 1))
        self._new_over_s, self._worst_ms = 0, 0.0
        return taken


def invalid_reasons(
    *,
    cpu_over_limit_s: int,
    lag_over_limit_s: Mapping[str, int],
    workers_lost: int,
    achieved: float | None,
    failure_ratio: float | None,
    finished: bool,
) -> list[str]:
    """Why the generator was the bottleneck; empty when it was not.

    lag_over_limit_s: per load-sending process, the seconds its timers ran late.
    achieved: requests sent over requests planned (open model; None for closed).
    failure_ratio: of the requests sent (None: none sent). finished: the load has
    ended (falling behind is judged on the whole run only)."""
    reasons = []
    if cpu_over_limit_s >= SUSTAINED_S:
        reasons.append(
            f"a generator process was above {CPU_LIMIT_PCT:.0f}% CPU for {cpu_over_limit_s} s"
        )
    late_s = max(lag_over_limit_s.values(), default=0)
    if late_s >= SUSTAINED_S:
        reasons.append(
            f"a generator process was starved of CPU: its timers ran over {LAG_LIMIT_MS:.0f} ms "
            f"late in {late_s} s, and that wait counts as the service's latency"
        )
    if workers_lost:
        reasons.append(f"{workers_lost} worker(s) lost")
    service_healthy = (
        failure_ratio is not None and failure_ratio < SERVICE_HEALTHY_MAX_FAILURE_RATIO
    )
    if achieved is not None and achieved < ACHIEVED_MIN and service_healthy and finished:
        reasons.append(
            f"achieved {achieved:.1%} of the target rate while the service "
            "answered: the generator fell behind"
        )
    return reasons
