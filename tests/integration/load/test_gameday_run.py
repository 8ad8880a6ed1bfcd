"""Short real runs against a running service (tens of seconds each)."""

from __future__ import annotations

import csv
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from gameday import histograms
from gameday.rundir import epoch_of
from gameday.settings import StackSettings
from tests.integration.own_service import ROOT, RunningService, gameday_run, seconds_with_requests
from tests.integration.service.service_helpers import wait_for

# These tests are about the generator: objectives loose enough that only broken
# run data fails the verdict.
LENIENT = ("--slo", str(ROOT / "tests" / "data" / "slo-lenient.yaml"))
WRITE_ENDPOINTS = {"POST /v1/documents", "PUT /v1/documents/{id}", "DELETE /v1/documents/{id}"}


def _rows(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "timeseries.csv") as f:
        return list(csv.DictReader(f))


def _run_json(run_dir: Path) -> dict[str, Any]:
    return dict(json.loads((run_dir / "run.json").read_text()))


def _locust_total(run_dir: Path) -> int:
    with open(run_dir / "locust" / "stats_stats.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["Name"] == "Aggregated"]
    return int(rows[0]["Request Count"])


def test_an_open_model_run_achieves_its_rate_and_records_every_request(
    own_service: RunningService, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    result = gameday_run(
        *LENIENT,
        "--scenario",
        "read_only",
        "--rate",
        "40",
        "--duration",
        "12s",
        "--target",
        own_service.url,
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    run = _run_json(out)
    assert run["status"] == "completed" and run["model"] == "open"
    assert 0.95 <= run["generator"]["achieved_over_target"] <= 1.05
    rows = _rows(out)
    recorded = sum(int(r["requests"]) for r in rows if r["endpoint"] == "ALL")
    assert recorded == run["generator"]["total_requests"] == _locust_total(out)
    assert abs(recorded - 40 * 12) <= 0.05 * 40 * 12
    assert run["generator"]["valid"] is True, run["generator"]["reasons"]
    # the report at the end of the run reads the same data
    summary = json.loads((out / "summary.json").read_text())
    assert summary["verdict"] == "pass" and summary["overall"]["count"] == recorded
    assert (out / "index.html").exists() and (out / "junit.xml").exists()


def test_a_closed_model_step_shape_runs_the_planned_users_at_the_planned_times(
    own_service: RunningService, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    result = gameday_run(
        *LENIENT,
        "--scenario",
        "read_only",
        "--shape",
        "step",
        "--users",
        "4",
        "--spawn-rate",
        "10",
        "--duration",
        "16s",
        "--target",
        own_service.url,
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    with open(out / "locust" / "stats_stats_history.csv") as f:
        history = [r for r in csv.DictReader(f) if r["Name"] == "Aggregated"]
    start = int(history[0]["Timestamp"])
    users_at = {int(r["Timestamp"]) - start: int(r["User Count"]) for r in history}
    # steps of 4 s: 1, 2, 3, 4 users; look mid-step, away from the edges
    for second, planned in ((2, 1), (6, 2), (10, 3), (14, 4)):
        seen = [users_at[s] for s in (second - 1, second, second + 1) if s in users_at]
        assert planned in seen, (second, planned, users_at)
    stages = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert [e["users"] for e in stages if e["type"] == "stage_changed"] == [1, 2, 3, 4]


def test_a_distributed_run_merges_its_workers_into_one_exact_result(
    own_service: RunningService, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    result = gameday_run(
        *LENIENT,
        "--scenario",
        "write_heavy",
        "--rate",
        "40",
        "--duration",
        "10s",
        "--workers",
        "2",
        "--target",
        own_service.url,
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    generator = _run_json(out)["generator"]
    per_worker = generator["worker_request_totals"]
    assert len(per_worker) == 2 and all(n > 0 for n in per_worker.values())
    merged = sum(int(r["requests"]) for r in _rows(out) if r["endpoint"] == "ALL")
    assert merged == sum(per_worker.values()) == _locust_total(out)
    # the ALL histogram log holds every request too
    log = (out / "histograms" / "ALL.hlog").read_text().splitlines()
    total = sum(
        histograms.decode(line.split(",")[3]).get_total_count()
        for line in log
        if line[:1].isdigit()
    )
    assert total == merged
    # the workers' writes are dated on the master's clock, as its events are
    ledger = [json.loads(line) for line in (out / "ledger.jsonl").read_text().splitlines()]
    assert ledger
    _assert_one_clock(out, ledger)


def test_a_two_second_stall_shows_as_queued_latency_not_as_missing_requests(
    own_service: RunningService, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    rate, stall_s = 50, 2.0
    failed: list[BaseException] = []

    def stall() -> None:
        try:  # mid-run: once the load has run a few whole seconds (live.json)
            wait_for(
                lambda: seconds_with_requests(out) >= 4,
                timeout_s=60,
                what=f"4 seconds with requests in {out / 'live.json'}",
            )
        except BaseException as exc:  # re-raised by the test, after the run
            failed.append(exc)
            return
        os.killpg(own_service.process.pid, signal.SIGSTOP)
        try:
            time.sleep(stall_s)  # the stall itself: the time the service is frozen
        finally:
            os.killpg(own_service.process.pid, signal.SIGCONT)

    staller = threading.Thread(target=stall)
    staller.start()
    result = gameday_run(
        *LENIENT,
        "--scenario",
        "read_only",
        "--rate",
        str(rate),
        "--duration",
        "14s",
        "--target",
        own_service.url,
        "--out",
        str(out),
    )
    staller.join()
    if failed:
        raise failed[0]
    assert result.returncode == 0, result.stdout + result.stderr
    rows = [r for r in _rows(out) if r["endpoint"] == "ALL" and r["requests"] != "0"]
    worst = max(float(r["max_ms"]) for r in rows)
    # the first request issued in the stall waited all of it (allow for jitter)
    assert worst >= stall_s * 1000 * 0.85, worst
    # every arrival of the stall was sent on time and charged its wait: about rate*stall
    # requests took longer than half the stall, none were skipped
    log = (out / "histograms" / "ALL.hlog").read_text().splitlines()
    merged = histograms.merge(
        histograms.decode(line.split(",")[3]) for line in log if line[:1].isdigit()
    )
    slow = sum(
        item.count_at_value_iterated_to
        for item in merged.get_recorded_iterator()
        if item.value_iterated_to >= 500_000  # µs
    )
    expected_queued = rate * stall_s
    assert 0.5 * expected_queued <= slow <= 1.6 * expected_queued, slow
    run = _run_json(out)
    assert 0.95 <= run["generator"]["achieved_over_target"] <= 1.05


def test_the_ledger_holds_exactly_the_acknowledged_writes(
    own_service: RunningService, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    result = gameday_run(
        *LENIENT,
        "--scenario",
        "write_heavy",
        "--rate",
        "20",
        "--duration",
        "10s",
        "--target",
        own_service.url,
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    ledger = [json.loads(line) for line in (out / "ledger.jsonl").read_text().splitlines()]
    rows = [
        r for r in _rows(out) if r["endpoint"] in WRITE_ENDPOINTS | {"POST /v1/documents/_bulk"}
    ]
    acknowledged = sum(
        (int(r["requests"]) - int(r["failures"])) * (20 if r["endpoint"].endswith("_bulk") else 1)
        for r in rows
    )
    assert ledger and len(ledger) == acknowledged
    assert len({(e["id"], e["version"], e["op"]) for e in ledger}) == len(ledger)
    _assert_one_clock(out, ledger)
    # every acknowledged create that was not deleted later is really there
    deleted = {e["id"] for e in ledger if e["op"] == "delete"}
    tokens = _tokens_by_tenant(out)
    checked = 0
    for entry in ledger:
        if entry["op"] in ("create", "bulk_create") and entry["id"] not in deleted:
            response = httpx.get(
                f"{own_service.url}/v1/documents/{entry['id']}",
                headers={"Authorization": f"Bearer {tokens[entry['tenant']]}"},
            )
            assert response.status_code == 200, entry
            assert response.json()["version"] >= entry["version"]
            checked += 1
    assert checked > 0


def _assert_one_clock(out: Path, ledger: list[dict[str, Any]]) -> None:
    """Every ledger entry and every event is dated from live.json's zero, the clock the
    per-second files count from (a ledger on a clock of its own put the restore drill's
    RPO up to a second off)."""
    zero = json.loads((out / "live.json").read_text())["start_epoch"]
    assert zero == int(zero)
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    offsets = [e["epoch"] - e["t_s"] for e in events] + [
        epoch_of(e["acked_at"]) - e["t_s"] for e in ledger
    ]
    assert all(abs(o - zero) <= 0.002 for o in offsets), sorted({round(o, 3) for o in offsets})


def _tokens_by_tenant(out: Path) -> dict[str, str]:
    from service.settings import AuthSettings
    from service.tenants.auth import issue_token

    tenants = {
        json.loads(line)["tenant"] for line in (out / "ledger.jsonl").read_text().splitlines()
    }
    return {t: issue_token(AuthSettings(), tenant=t, role="user", ttl_s=600) for t in tenants}


def test_via_proxy_sends_the_load_through_the_api_proxy(
    stack: StackSettings, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    result = gameday_run(
        *LENIENT,
        "--scenario",
        "read_only",
        "--rate",
        "10",
        "--duration",
        "5s",
        "--via-proxy",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    run = _run_json(out)
    assert run["via_proxy"] is True
    assert run["target_url"] == f"http://127.0.0.1:{stack.api_proxy_port}"
    assert run["generator"]["total_requests"] >= 45
