"""A bare FastHttpUser: the reference the harness's own user is compared with."""

import locust.stats
from locust import FastHttpUser, constant, task

# bench/load_per_core.py reads the history each second as it is written (CPU per request)
locust.stats.CSV_STATS_FLUSH_INTERVAL_SEC = 0


class BareFast(FastHttpUser):
    wait_time = constant(0)

    @task
    def hit(self) -> None:
        self.client.get("/", name="GET /")
