"""The run's load shape as Locust's LoadTestShape: the closed shapes' users over time,
or, under an open shape, one arrival scheduler per Locust process for the run."""

from __future__ import annotations  # noqa: I001  (locust first, see below)

import locust  # noqa: F401  (first: it monkey-patches the standard library)

import time
from collections.abc import Callable

from locust import LoadTestShape

from gameday.load.config import CLOSED_STOP_TIMEOUT_S
from gameday.load.shapes import CLOSED
from gameday.plugin import capture, readiness

OPEN_DRAIN_S = 3.0
STOP_SLACK_S = 3.0  # the workers' heartbeats (1 s) saying they have no user left
_run_time: Callable[[LoadTestShape], float] = LoadTestShape.get_run_time  # untyped in Locust


class RunShape(LoadTestShape):
    _ending: tuple[float, tuple[int, float]] | None = None  # since, and the end's tick

    def tick(self) -> tuple[int, float] | None:
        config = capture.state.config
        if config.model == "open":
            # Each scheduler stops issuing after duration_s from the run's clock start
            # (once every worker is ready, gameday.plugin.readiness) and waits for its
            # in-flight requests: keep it alive until then and for that drain.
            # A local run's scheduler is in this process: it says when its drain is over
            # (usually well before OPEN_DRAIN_S), which spares every run that wait; the
            # workers' say so to the master (gameday_done), a lost worker never will.
            state = capture.state
            end_s = config.duration_s + OPEN_DRAIN_S
            if config.workers == 0:
                drained = state.schedule_done
            else:
                drained = readiness.every_worker_done(state.lost_workers)
            if state.started and (drained or time.time() - state.start_epoch >= end_s):
                return None
            n = config.worker_processes
            return n, float(n)
        users = CLOSED[config.shape](_run_time(self), config)
        if users is not None:
            return users
        return self._down_to_no_users()

    def _down_to_no_users(self) -> tuple[int, float] | None:
        """The closed model's end: no users first, each stopping once the task it is in
        is over (--stop-timeout), then the end. Locust's own end (quit) kills them
        mid-request, and gives a worker 0.5 s to send its last report."""
        runner = self.runner
        if runner is None or runner.user_count == 0:  # a master's: its workers' heartbeats
            return None
        now = time.monotonic()
        if self._ending is None:  # one tick for the whole end: Locust restarts on a new one
            # as fast as there are users: Locust stops a master's users at this rate
            self._ending = (now, (0, float(runner.user_count)))
        since, tick = self._ending
        return None if now - since > CLOSED_STOP_TIMEOUT_S + STOP_SLACK_S else tick


def new_shape() -> RunShape:
    make: Callable[[], RunShape] = RunShape  # LoadTestShape.__init__ is untyped
    return make()
