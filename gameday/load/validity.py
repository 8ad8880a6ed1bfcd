"""Whether the load generator, not the service, limited a run: the checks behind
run.json's `generator.valid` and its `reasons`.

No Locust here: the capture plugin (gameday/plugin/capture.py) feeds these what it sees in
the Locust processes, and unit tests feed them numbers.

    lag = LoopLag()                                  # in each process that sends load
    lag.note(second=1764500000, lag_ms=240.0)        # a 0.1 s timer that woke 240 ms late
    over_s, worst_ms = lag.take()                    # (1, 240.0), shipped to the master
    cpu = CpuSpans()                                 # on the master, for every process
    cpu.note("w1", wall_s=100.0, cpu_s=3.0)          # cumulative CPU seconds, on its clock
    cpu.note("w1", wall_s=103.0, cpu_s=5.85)         # 2.85 s of CPU in 3 s: 95%
    cpu.max_pct, cpu.over_limit_s                    # (95.0, {"w1": 3})
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


class CpuSpans:
    """Each process's CPU share, percent of one core: the CPU seconds it used (user +
    system, cumulative, as psutil's `cpu_times`) over the wall seconds between two of its
    samples at least MIN_SPAN_S apart. Nothing shorter is judged: psutil's `cpu_percent()`
    between two calls a few milliseconds apart divides a 10 ms tick by those milliseconds
    (2,325% for one process once). The seconds over CPU_LIMIT_PCT are the span's length,
    counted per process."""

    MIN_SPAN_S = 1.0

    def __init__(self) -> None:
        self._since: dict[str, tuple[float, float]] = {}  # process -> (wall_s, cpu_s)
        self.max_pct = 0.0
        self.over_limit_s: dict[str, int] = {}

    def note(self, process: str, *, wall_s: float, cpu_s: float) -> float | None:
        """The share over the span that this sample closes (None: under MIN_SPAN_S since
        the last one that closed a span, or the first sample)."""
        since = self._since.get(process)
        if since is None:
            self._since[process] = (wall_s, cpu_s)
            return None
        span_s = wall_s - since[0]
        if span_s < self.MIN_SPAN_S:
            return None
        self._since[process] = (wall_s, cpu_s)
        pct = max(cpu_s - since[1], 0.0) / span_s * 100.0
        self.max_pct = max(self.max_pct, pct)
        if pct > CPU_LIMIT_PCT:
            self.over_limit_s[process] = self.over_limit_s.get(process, 0) + round(span_s)
        return pct

    def forget(self, process: str) -> None:
        """A process that stopped being judged (the master between its samples)."""
        self._since.pop(process, None)


def invalid_reasons(
    *,
    cpu_over_limit_s: int,
    lag_over_limit_s: Mapping[str, int],
    workers_lost: int,
    achieved: float | None,
    failure_ratio: float | None,
    finished: bool,
    workers_expected: int = 0,
    workers_never_connected: int = 0,
    workers_not_ready: int = 0,
    ready_timeout_s: float = 0.0,
) -> list[str]:
    """Why the generator was the bottleneck; empty when it was not.

    lag_over_limit_s: per load-sending process, the seconds its timers ran late.
    achieved: requests sent over requests planned (open model; None for closed).
    failure_ratio: of the requests sent (None: none sent). finished: the load has
    ended (falling behind is judged on the whole run only). workers_never_connected: of
    workers_expected, those that had not connected when the master gave up waiting
    (after ready_timeout_s; the load never started); workers_not_ready: those connected
    whose users' on_start had not finished then (the load started without them)."""
    reasons = []
    if workers_never_connected:
        reasons.append(
            f"{workers_never_connected} of {workers_expected} worker(s) never connected "
            f"within {ready_timeout_s:.0f} s: the load did not start"
        )
    if workers_not_ready:
        reasons.append(
            f"{workers_not_ready} of {workers_expected} worker(s) were not ready within "
            f"{ready_timeout_s:.0f} s (their users' on_start had not finished): "
            "the load started without them"
        )
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
    # A lost worker's share was never sent: that is the reason, not a generator that
    # could not keep up (it read "fell behind" beside "1 worker(s) lost")
    keeping_up = achieved is None or achieved >= ACHIEVED_MIN or workers_lost > 0
    if not keeping_up and service_healthy and finished:
        reasons.append(
            f"achieved {achieved:.1%} of the target rate while the service "
            "answered: the generator fell behind"
        )
    return reasons
