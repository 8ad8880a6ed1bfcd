"""Distribution for real on one machine, the short version of bench/distributed.py (32
workers): `gameday run --workers 8` of the reference profile's `liveness` mix, the
master merging every worker's histograms.

The target is the cheap target with `--record`, which counts what it received; the run
must count exactly that, everywhere: the workers' own counts (locust/worker-count-*.json,
written as each worker quits), the master's merged total (generator.json), and the
report's (summary.json). The clock starts once every worker is ready: each worker's
arrival clock starts within a second after the master's, and every worker sends its
exact share. Workers that never connect are reported as such (a worker that dies on
start-up), not as lost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gameday.load.config import LoadConfig
from gameday.load.engine import RunFailed, run_load
from tests.integration.load.cheap_target import serving
from tests.integration.own_service import ROOT

LENIENT = ROOT / "tests" / "data" / "slo-lenient.yaml"
WORKERS, RATE_RPS, DURATION_S = 8, 80, 5
GO_WITHIN_S = 1.0  # the master's go reaches every worker this soon (2 ms here, idle)


def test_eight_workers_count_exactly_what_the_target_received(tmp_path: Path) -> None:
    record, out = tmp_path / "received.jsonl", tmp_path / "run"
    with serving("--record", str(record)) as url:
        done = subprocess.run(
            [sys.executable, "-m", "gameday.cli", "run", "--slo", str(LENIENT)]
            + ["--scenario", "liveness", "--target", url, "--out", str(out)]
            + ["--rate", str(RATE_RPS), "--duration", f"{DURATION_S}s"]
            + ["--workers", str(WORKERS)],
            capture_output=True,
            text=True,
            timeout=180,
            cwd=ROOT,
        )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    received = sum("/health/live" in line for line in record.read_text().splitlines())
    planned = RATE_RPS * DURATION_S
    assert received == planned, output

    generator = json.loads((out / "generator.json").read_text())
    counts = [json.loads(p.read_text()) for p in (out / "locust").glob("worker-count-*.json")]
    summary = json.loads((out / "summary.json").read_text())
    assert len(counts) == WORKERS
    assert sum(c["requests"] for c in counts) == planned  # the workers' own counts
    assert sorted(generator["worker_request_totals"].values()) == [planned // WORKERS] * WORKERS
    assert generator["total_requests"] == planned  # the master's merge
    assert summary["overall"]["count"] == planned  # the report's

    start = generator["start_epoch"]
    assert all(start <= c["start_epoch"] <= start + GO_WITHIN_S for c in counts), (start, counts)
    assert generator["ready_wait_s"] is not None
    assert generator["valid"] is True, generator["reasons"]
    assert generator["workers_lost"] == generator["workers_never_connected"] == 0
    assert generator["master_cpu_pct"] is not None
    assert 0 < generator["max_worker_cpu_pct"] < 100  # one process: at most one core


CRASH_ONE_WORKER = """
import os
import sys

from locust import FastHttpUser, task

# The second worker to import this file dies before it connects to the master.
if "--worker" in sys.argv:
    try:
        os.close(os.open({claim!r}, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        sys.exit("this worker never connects")


class Look(FastHttpUser):
    @task
    def look(self):
        self.client.get("/look")
"""


def test_a_worker_that_never_connects_is_reported_as_such_not_as_lost(tmp_path: Path) -> None:
    locustfile = tmp_path / "crash_one_worker.py"
    locustfile.write_text(CRASH_ONE_WORKER.format(claim=str(tmp_path / "claimed")))
    out = tmp_path / "run"
    (out / "locust").mkdir(parents=True)
    with serving() as url:
        config = LoadConfig(
            scenario="look",
            shape="constant-rate",
            target_rps=10,
            duration_s=5,
            workers=2,
            ready_timeout_s=3,
            mix={"Look": 1},
            locustfiles=[str(locustfile)],
            target_url=url,
            run_dir=str(out),
        )
        with pytest.raises(RunFailed) as failed:
            run_load(config, out, on_tick=lambda _: None)
    why = "1 of 2 worker(s) never connected to the Locust master within 3 s"
    assert why in str(failed.value)
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "failed"
    assert why in record["error"] and "lost" not in record["error"]
