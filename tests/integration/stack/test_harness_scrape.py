"""The stack's Prometheus scrapes the harness's own live endpoint (job `gameday`) while a
`gameday run` goes on: the target is up, and the run's per-endpoint counters can be
queried, labelled with the run, no more than the run's final counts. After the run the
target is down (the endpoint ends with the load)."""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

import httpx

from gameday.settings import StackSettings
from tests.integration.own_service import ROOT, gameday_run_in_background
from tests.integration.service.service_helpers import wait_for

LENIENT = ("--slo", str(ROOT / "tests" / "data" / "slo-lenient.yaml"))


def _query(stack: StackSettings, promql: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{stack.prometheus_url}/api/v1/query", params={"query": promql})
    body = response.json()
    assert body["status"] == "success", body
    return list(body["data"]["result"])


def _gameday_target(stack: StackSettings) -> dict[str, Any]:
    targets = httpx.get(f"{stack.prometheus_url}/api/v1/targets", timeout=5.0).json()
    jobs = {t["labels"]["job"]: t for t in targets["data"]["activeTargets"]}
    assert "gameday" in jobs, (
        f"the stack's Prometheus has no `gameday` job ({sorted(jobs)}): it runs an older "
        "prometheus.yml: restart the stack (gameday stack down; gameday stack up)"
    )
    return dict(jobs["gameday"])


def test_prometheus_scrapes_the_harness_live_endpoint_during_a_run(
    stack: StackSettings, tmp_path: Path
) -> None:
    target = _gameday_target(stack)
    assert target["scrapeUrl"] == f"http://{stack.host}:{stack.harness_metrics_port}/metrics"
    out = tmp_path / f"harness-scrape-{int(time.time())}"  # the run label, unique in the TSDB
    counted = f'gameday_load_requests_total{{job="gameday", run="{out.name}"}}'
    seen: list[dict[str, Any]] = []
    with gameday_run_in_background(
        *LENIENT, "--scenario", "read_only", "--rate", "10", "--duration", "5s",
        "--out", str(out),
    ) as finished:  # fmt: skip

        def counted_in_prometheus() -> bool:
            seen[:] = [s for s in _query(stack, counted) if float(s["value"][1]) > 0]
            return bool(seen)

        wait_for(counted_in_prometheus, timeout_s=45, what="the run's requests in Prometheus")
        assert _gameday_target(stack)["health"] == "up"
    assert finished.returncode == 0, finished.output
    final: dict[str, int] = {}
    with open(out / "timeseries.csv") as f:
        for row in csv.DictReader(f):
            if row["endpoint"] != "ALL":
                final[row["endpoint"]] = final.get(row["endpoint"], 0) + int(row["requests"])
    for sample in seen:
        endpoint = sample["metric"]["endpoint"]
        assert 0 < float(sample["value"][1]) <= final[endpoint], (sample, final)
    # the load is over: the endpoint is gone, and Prometheus sees the target down
    wait_for(
        lambda: _gameday_target(stack)["health"] == "down",
        timeout_s=10,
        what="the gameday target down after the run",
    )
