"""The user class that the open-model row of bench/load_per_core.py sends: the same one
request as the other rows, run by the harness's own plugin (gameday/plugin/locustfile.py
first on Locust's -f), as `gameday run --rate` runs any user class: one arrival
scheduler per process, HDR capture on, every request timed from when it was due."""

import locust.stats
from locust import FastHttpUser, task

# bench/load_per_core.py reads the history each second as it is written (CPU per request)
locust.stats.CSV_STATS_FLUSH_INTERVAL_SEC = 0


class Hit(FastHttpUser):
    @task
    def hit(self) -> None:
        self.client.get("/", name="/")
