"""The one locustfile `gameday run` starts: it reads the run's LoadConfig from
GAMEDAY_LOAD_CONFIG and exposes the selected user classes and shape."""

from __future__ import annotations

import locust  # noqa: F401  (first: it monkey-patches the standard library)

import os
import signal
import sys
from pathlib import Path

# Locust imports this file by path; make the repository importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from locust import LoadTestShape, events  # noqa: E402

from gameday.load.config import LoadConfig  # noqa: E402
from scenarios import capture, users  # noqa: E402
from scenarios.shapes import CLOSED  # noqa: E402

OPEN_DRAIN_S = 3.0
# The engine stops Locust with SIGINT (its KeyboardInterrupt path writes the results).
# A harness started as a background job (`cmd &` in a script, some CI runners) passes
# SIGINT down ignored, and Python then never raises KeyboardInterrupt: take it back.
signal.signal(signal.SIGINT, signal.default_int_handler)
CONFIG = LoadConfig.model_validate_json(os.environ.get("GAMEDAY_LOAD_CONFIG", "{}"))

globals().update(users.configure(CONFIG))


class RunShape(LoadTestShape):
    """Closed model: the named shape's users over time. Open model: one
    arrival scheduler per worker process, for the run's duration."""

    def tick(self) -> tuple[int, float] | None:
        t_s = self.get_run_time()
        if CONFIG.model == "open":
            # Each scheduler stops issuing after duration_s from its own start and
            # waits for its in-flight requests: keep it alive for that drain.
            if t_s >= CONFIG.duration_s + OPEN_DRAIN_S:
                return None
            n = CONFIG.worker_processes
            return n, float(n)
        return CLOSED[CONFIG.shape](t_s, CONFIG)


@events.init.add_listener
def _install_capture(environment: locust.env.Environment, **_: object) -> None:
    capture.install(environment, CONFIG)
