"""Workers whose users' on_start is CPU-bound are not lost (issue 17: 32 workers of the
reference scenario on 2 cores sent 0 requests, every worker reported lost).

The open model makes 16 instances per user class and process and runs their on_start
before the first arrival. Run in one uninterrupted batch, CPU-bound on_starts kept a
worker from sending Locust's heartbeats; after about 3 s without one the master marks it
missing, and with every worker missing it stops the test. Here each on_start burns
0.4 s of CPU without yielding (6.4 s a worker), on 2 workers against the cheap target."""

from __future__ import annotations

import json
from pathlib import Path

from gameday.load.config import LoadConfig
from gameday.load.engine import run_load
from tests.integration.load.cheap_target import serving

BUSY = """
import time

from locust import FastHttpUser, task


class Busy(FastHttpUser):
    def on_start(self):
        deadline = time.process_time() + 0.4
        while time.process_time() < deadline:  # CPU, never yielding to the event loop
            pass

    @task
    def look(self):
        self.client.get("/busy")
"""


def test_workers_busy_in_on_start_keep_their_heartbeats_and_send_the_load(
    tmp_path: Path,
) -> None:
    locustfile = tmp_path / "busy_locustfile.py"
    locustfile.write_text(BUSY)
    out = tmp_path / "run"
    (out / "locust").mkdir(parents=True)
    with serving() as url:
        config = LoadConfig(
            scenario="busy",
            shape="constant-rate",
            target_rps=10,
            duration_s=5,
            workers=2,
            mix={"Busy": 1},
            locustfiles=[str(locustfile)],
            target_url=url,
            run_dir=str(out),
        )
        record = run_load(config, out, on_tick=lambda _: None)
    assert record.status == "completed"
    generator = json.loads((out / "generator.json").read_text())
    assert generator["workers_lost"] == 0, generator
    totals = generator["worker_request_totals"]
    assert len(totals) == 2 and all(n > 0 for n in totals.values()), totals
    assert generator["total_requests"] == sum(totals.values())
    # The run's clock started once every worker was ready: the 6.4 s of on_start per
    # worker is neither in the load's duration nor in the workers' CPU share, and does
    # not make the run invalid.
    assert generator["ready_wait_s"] >= 16 * 0.4, generator
    assert generator["max_worker_cpu_pct"] < 90, generator
    assert generator["valid"] is True, generator["reasons"]
