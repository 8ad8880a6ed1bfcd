"""A bare HttpUser (python-requests), Locust's default client."""

import locust.stats
from locust import HttpUser, constant, task

# bench/load_per_core.py reads the history each second as it is written (CPU per request)
locust.stats.CSV_STATS_FLUSH_INTERVAL_SEC = 0


class BareHttp(HttpUser):
    wait_time = constant(0)

    @task
    def hit(self) -> None:
        self.client.get("/", name="GET /")
