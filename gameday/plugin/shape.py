"""The run's load shape as Locust's LoadTestShape: the closed shapes' users over time,
or, under an open shape, one arrival scheduler per Locust process for the run."""

from __future__ import annotations  # noqa: I001  (locust first, see below)

import locust  # noqa: F401  (first: it monkey-patches the standard library)

import time
from collections.abc import Callable

from locust import LoadTestShape

from gameday.load.shapes import CLOSED
from gameday.plugin import capture, readiness

OPEN_DRAIN_S = 3.0
_run_time: Callable[[LoadTestShape], float] = LoadTestShape.get_run_time  # untyped in Locust


class RunShape(LoadTestShape):
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
        if users is None and config.workers > 0 and self.runner is not None:
            # Locust's headless end (quit) gives the workers 0.5 s, so their users would
            # be killed mid-request whatever --stop-timeout says: a request sent and never
            # counted. Stop them first: the master sends "stop" and waits until every
            # worker's users have finished their task (within the stop timeout).
            self.runner.stop()
        return users


def new_shape() -> RunShape:
    make: Callable[[], RunShape] = RunShape  # LoadTestShape.__init__ is untyped
    return make()
