"""The harness around an experiment, under real load and real Toxiproxy faults:
interruption, an unmet steady state, malformed files and a controlled outage.
Each shipped experiment's own claims are in test_experiment_claims.py."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from gameday.settings import StackSettings
from gameday.slo.loader import load_slo
from tests.integration.chaos.evidence import assert_no_fault_left
from tests.integration.own_service import (
    ROOT,
    RunningService,
    assert_report_agrees,
    gameday_run,
    interruptible,
)
from tests.integration.prober_crosscheck import (
    cross_check,
    harness_windows,
    independent_prober,
    write_token,
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
    assert_report_agrees(stdout, proc.returncode)
    outcome = _json(out / "experiment.json")
    assert outcome["interrupted"] is True
    assert_no_fault_left(stack, "opensearch")


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
    assert_no_fault_left(stack, "redis")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda e: e["method"][0]["provider"].update(func="add_latncy"),
            "unknown fault 'add_latncy' in method[0]; expected one of",
        ),
        (lambda e: e.pop("title"), "'title' is missing"),
        # A user's own provider module is accepted (issue 15): it must import and have
        # the function, or the run stops in one line before any load.
        (
            lambda e: e["method"][0]["provider"].update(module="os"),
            "method[0]: module 'os' has no function 'add_latency'",
        ),
        (
            lambda e: e["method"][0]["provider"].update(module="no_such_chaos_module"),
            "no_such_chaos_module",
        ),
    ],
    ids=["misspelled-fault", "no-title", "foreign-module-without-the-function", "no-module"],
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
    # the independent prober sends its own requests through the same cut proxy
    token = write_token(tmp_path / "token", tenant="prober-api-partition")
    api = f"http://{stack.host}:{stack.api_proxy_port}"
    with independent_prober(api, token, tmp_path / "probes.jsonl") as prober:
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
    assert_no_fault_left(stack, "api")
    # the measured RTO agrees, within 3 s, with when the prober's own requests came back
    sustained_s = load_slo(lenient).sustained_window
    harness = harness_windows(out, fault="api-down")
    comparison = cross_check(prober.analyse(sustained_s=sustained_s), harness, breaker=False)
    assert comparison.agrees, comparison
