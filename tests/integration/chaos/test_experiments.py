"""Short experiments under real load, through real Toxiproxy faults; each
asserts the verdict and the evidence in the run directory."""

from __future__ import annotations

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from gameday.chaos.toxiproxy import ToxiproxyClient
from gameday.settings import StackSettings
from tests.integration.own_service import (
    ROOT,
    RunningService,
    gameday_run,
    interruptible,
    running_service,
)

EXPERIMENTS = ROOT / "experiments"
# The shipped experiments hold their fault 15-20 s; 10 s shows the same behaviour in
# less CI time (every experiment with a `fault_s` key takes it from --var).
SHORT_FAULT_S = 10
SHORT_FAULT = ("--var", f"fault_s={SHORT_FAULT_S}")


def _json(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def _events(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


def _window(run_dir: Path, name: str) -> tuple[float, float]:
    events = _events(run_dir)
    start = next(e["t_s"] for e in events if e["type"] == "fault_injected" and e["name"] == name)
    end = next(e["t_s"] for e in events if e["type"] == "fault_removed" and e["name"] == name)
    return start, end


def _assert_no_fault_left(stack: StackSettings) -> None:
    with ToxiproxyClient(stack.toxiproxy_url) as client:
        proxies = client.proxies()
    assert all(p.enabled for p in proxies.values()), proxies
    assert all(not p.toxics for p in proxies.values()), proxies


def test_redis_down_keeps_searches_answering_without_server_errors(
    own_service: RunningService, stack: StackSettings, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    result = gameday_run(
        "--scenario",
        "read_only",
        "--rate",
        "20",
        "--target",
        own_service.url,
        "--experiment",
        str(EXPERIMENTS / "redis-down.json"),
        *SHORT_FAULT,
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    outcome = _json(out / "experiment.json")
    assert outcome["verdict"] == "pass" and outcome["steady_state_before"] is True
    start, end = _window(out, "redis-down")
    assert end - start >= SHORT_FAULT_S - 1
    with open(out / "timeseries.csv") as f:
        during = [
            r
            for r in csv.DictReader(f)
            if r["endpoint"] == "ALL" and start <= int(r["second"]) < end
        ]
    assert sum(int(r["requests"]) for r in during) > 0
    assert sum(int(r["fail_5xx"]) + int(r["fail_connection"]) for r in during) == 0
    _assert_no_fault_left(stack)


def test_a_broker_outage_loses_no_acknowledged_write_with_the_outbox(
    own_service: RunningService, stack: StackSettings, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    result = gameday_run(
        "--scenario",
        "write_heavy",
        "--rate",
        "15",
        "--target",
        own_service.url,
        "--experiment",
        str(EXPERIMENTS / "rabbitmq-down.json"),
        *SHORT_FAULT,
        "--rpo-grace",
        "40s",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    start, end = _window(out, "rabbitmq-down")
    ledger = [json.loads(line) for line in (out / "ledger.jsonl").read_text().splitlines()]
    assert any(start <= e["t_s"] < end for e in ledger), "no write was acknowledged in the outage"
    reconciliation = _json(out / "reconciliation.json")
    assert reconciliation["lost"] == 0 and reconciliation["rpo_s"] == 0.0, reconciliation
    assert reconciliation["acknowledged"] == len(ledger)


def test_without_the_outbox_the_same_outage_loses_writes_and_fails(
    stack: StackSettings, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    with running_service(stack, tmp_path, {"SERVICE_OUTBOX_ENABLED": "false"}) as naive:
        result = gameday_run(
            "--scenario",
            "write_heavy",
            "--rate",
            "15",
            "--target",
            naive.url,
            "--experiment",
            str(EXPERIMENTS / "rabbitmq-down.json"),
            *SHORT_FAULT,
            "--rpo-grace",
            "15s",
            "--out",
            str(out),
        )
    assert result.returncode == 1, result.stdout + result.stderr
    reconciliation = _json(out / "reconciliation.json")
    assert reconciliation["lost"] > 0 and reconciliation["rpo_s"] > 0, reconciliation
    assert "lost writes" in result.stdout


def test_an_experiment_interrupted_mid_method_leaves_no_fault_behind(
    own_service: RunningService, stack: StackSettings, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gameday.cli",
            "run",
            "--scenario",
            "read_only",
            "--rate",
            "10",
            "--target",
            own_service.url,
            "--out",
            str(out),
            "--experiment",
            str(EXPERIMENTS / "opensearch-latency.json"),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=interruptible,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        events = (out / "events.jsonl").read_text() if (out / "events.jsonl").exists() else ""
        if "fault_injected" in events:
            break
        time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("the fault was never injected")
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stdout + stderr
    outcome = _json(out / "experiment.json")
    assert outcome["interrupted"] is True
    _assert_no_fault_left(stack)


def test_an_unmet_steady_state_before_the_method_is_an_error_never_a_pass(
    own_service: RunningService, stack: StackSettings, tmp_path: Path
) -> None:
    experiment = _json(EXPERIMENTS / "redis-down.json")
    probe = experiment["steady-state-hypothesis"]["probes"][0]
    probe["provider"]["arguments"]["p95_max_ms"] = 0.001  # no real service meets this
    path = tmp_path / "impossible.json"
    path.write_text(json.dumps(experiment))
    out = tmp_path / "run"
    result = gameday_run(
        "--scenario",
        "read_only",
        "--rate",
        "10",
        "--target",
        own_service.url,
        "--experiment",
        str(path),
        "--out",
        str(out),
    )
    assert result.returncode == 2, result.stdout + result.stderr
    outcome = _json(out / "experiment.json")
    assert outcome["verdict"] == "error" and outcome["steady_state_before"] is False
    assert "proved nothing" in outcome["error"]
    # no fault, nothing to watch recover: the load ends then, not at the planned end
    assert "no fault was injected" in _json(out / "run.json")["stopped_early"]
    assert "load stopped early" in result.stdout
    stopped = next(e["t_s"] for e in _events(out) if e["type"] == "load_stopped")
    assert stopped < 30, stopped  # the warm-up (10 s) and the probe; 65 s were planned
    _assert_no_fault_left(stack)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda e: e["method"][0]["provider"].update(func="add_latncy"),
            "unknown fault 'add_latncy' in method[0]; expected one of",
        ),
        (lambda e: e.pop("title"), "'title' is missing"),
        (
            lambda e: e["method"][0]["provider"].update(module="os"),
            "unknown module 'os' in method[0]",
        ),
    ],
    ids=["misspelled-fault", "no-title", "foreign-module"],
)
def test_a_malformed_experiment_is_a_one_line_error_naming_the_field(
    tmp_path: Path, mutate: Any, message: str
) -> None:
    experiment = _json(EXPERIMENTS / "opensearch-latency.json")
    mutate(experiment)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(experiment))
    result = gameday_run(
        "--rate", "5", "--experiment", str(path), "--out", str(tmp_path / "run"), timeout=60
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not (tmp_path / "run").exists()


def test_a_controlled_ten_second_outage_is_measured_as_a_ten_second_breach(
    stack: StackSettings, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    lenient = ROOT / "tests" / "data" / "slo-lenient.yaml"  # judge the breach, not the budget
    result = gameday_run(
        "--scenario",
        "read_only",
        "--rate",
        "20",
        "--via-proxy",
        "--slo",
        str(lenient),
        "--experiment",
        str(EXPERIMENTS / "api-partition.json"),
        *SHORT_FAULT,
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert _json(out / "experiment.json")["verdict"] == "pass"
    start, end = _window(out, "api-down")
    assert SHORT_FAULT_S - 1 <= end - start <= SHORT_FAULT_S + 2
    (experiment,) = _json(out / "summary.json")["experiments"]
    assert abs(experiment["breach_s"] - (end - start)) <= 3, experiment
    assert experiment["recovery_after_removal_s"] is not None
    assert experiment["recovery_after_removal_s"] <= 3
    _assert_no_fault_left(stack)


@pytest.mark.parametrize(
    ("experiment", "scenario", "own_target"),
    [
        ("opensearch-down", "read_only", True),
        ("opensearch-latency", "read_only", True),
        ("postgres-partition", "write_heavy", True),
        ("slow-network", "search_mix", True),
        # the stack's own service: the experiment kills one of its uvicorn workers
        ("service-worker-killed", "read_only", False),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_every_short_experiment_runs_judges_and_cleans_up(
    own_service: RunningService,
    stack: StackSettings,
    tmp_path: Path,
    experiment: str,
    scenario: str,
    own_target: bool,
) -> None:
    out = tmp_path / "run"
    target = ("--target", own_service.url) if own_target else ()
    path = EXPERIMENTS / f"{experiment}.json"
    short = SHORT_FAULT if "fault_s" in _json(path).get("configuration", {}) else ()
    result = gameday_run(
        "--scenario",
        scenario,
        "--rate",
        "15",
        *target,
        "--experiment",
        str(path),
        *short,
        "--rpo-grace",
        "20s",
        "--out",
        str(out),
    )
    # a verdict (pass or an SLO failure), never a harness error
    assert result.returncode in (0, 1), result.stdout + result.stderr
    outcome = _json(out / "experiment.json")
    assert outcome["steady_state_before"] is True, outcome
    assert outcome["verdict"] in ("pass", "fail")
    faults = [e for e in _events(out) if e["type"] == "fault_injected"]
    assert faults, "the method injected nothing"
    summary = _json(out / "summary.json")
    assert summary["verdict"] in ("pass", "fail")
    assert {e["name"] for e in summary["experiments"]} >= {f["name"] for f in faults}
    _assert_no_fault_left(stack)
