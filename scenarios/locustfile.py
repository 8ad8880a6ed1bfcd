"""The one locustfile `gameday run` starts. The run's LoadConfig comes as a command-line
option, `--gameday-config PATH` (a JSON file `gameday run` writes in the run directory):

    locust -f scenarios/locustfile.py --gameday-config reports/RUN/load-config.json ...

Nothing happens at import time: the option is read once Locust has parsed it (its
`init` event), which selects the run's user classes and installs the capture."""

from __future__ import annotations

import locust  # noqa: F401  (first: it monkey-patches the standard library)

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

# Locust imports this file by path; make the repository importable.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from locust import LoadTestShape, events  # noqa: E402

from gameday.load.config import CONFIG_OPTION, LoadConfig  # noqa: E402
from scenarios import capture, users  # noqa: E402
from scenarios.shapes import CLOSED  # noqa: E402

OPEN_DRAIN_S = 3.0
# The engine stops Locust with SIGINT (its KeyboardInterrupt path writes the results).
# A harness started as a background job (`cmd &` in a script, some CI runners) passes
# SIGINT down ignored, and Python then never raises KeyboardInterrupt: take it back.
signal.signal(signal.SIGINT, signal.default_int_handler)
CONFIG = LoadConfig()  # the run's, from --gameday-config, once Locust has parsed it

# Locust needs a user class to collect at import; `_configure` replaces them with the
# run's own (its mix, with the mix's weights).
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


@events.init_command_line_parser.add_listener
def _add_options(parser: argparse.ArgumentParser, **_: Any) -> None:
    parser.add_argument(
        CONFIG_OPTION,
        metavar="PATH",
        default=None,
        help="the run's LoadConfig as a JSON file (gameday run writes load-config.json)",
    )


@events.init.add_listener
def _configure(environment: locust.env.Environment, **_: Any) -> None:
    global CONFIG
    path = getattr(environment.parsed_options, "gameday_config", None)
    if not path:
        sys.exit(f"scenarios/locustfile.py needs {CONFIG_OPTION} PATH (a LoadConfig JSON file)")
    CONFIG = LoadConfig.model_validate_json(Path(path).read_text())
    environment.user_classes[:] = list(users.configure(CONFIG).values())
    capture.install(environment, CONFIG)
