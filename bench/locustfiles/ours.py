"""The same FastHttpUser with the harness's HDR capture plugin installed:
what every scenario request pays for exact per-second latency."""

import locust  # noqa: F401  (first: it monkey-patches the standard library)

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from locust import FastHttpUser, constant, events, task  # noqa: E402

# bench/load_per_core.py reads the history each second as it is written (CPU per request)
locust.stats.CSV_STATS_FLUSH_INTERVAL_SEC = 0

from gameday.load.config import LoadConfig  # noqa: E402
from gameday.plugin import capture  # noqa: E402

CONFIG = LoadConfig(users=1, duration_s=3600, run_dir=os.environ["BENCH_RUN_DIR"])


class Ours(FastHttpUser):
    wait_time = constant(0)

    @task
    def hit(self) -> None:
        self.client.get("/", name="/", context={"request_id": "bench"})


@events.init.add_listener
def _install(environment: locust.env.Environment, **_: object) -> None:
    capture.install(environment, CONFIG)
