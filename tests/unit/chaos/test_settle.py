"""A suite's next experiment starts only once the steady state holds again: the SLO
window its own steady-state probe checks, read from live.json, waited for at most the
suite's settle_timeout, each wait on the timeline as steady_state_wait events."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from gameday import histograms
from gameday.chaos.experiment import load_experiment
from gameday.chaos.settle import SettleGate, SteadyState, steady_state_of
from gameday.chaos.sidecar import SuiteSidecar, injected_faults, proxies_named
from gameday.chaos.suite import suite_of
from gameday.settings import PROJECT_ROOT, StackSettings

EXPERIMENTS = PROJECT_ROOT / "experiments"
STEADY = SteadyState(window_s=10, p95_max_ms=500.0, error_rate_max=0.001)


def make_live(
    run_dir: Path, *, seconds: int = 10, errors: int = 0, latency_ms: float = 20.0
) -> None:
    """live.json as the capture writes it: the last seconds, 20 requests each; `errors`
    server errors in the newest second."""
    rows = []
    for second in range(seconds):
        histogram = histograms.new_histogram()
        for _ in range(20):
            histograms.record_ms(histogram, latency_ms)
        bad = errors if second == seconds - 1 else 0
        rows.append(
            {
                "second": second,
                "requests": 20,
                "failures": bad,
                "errors": bad,
                "hist": histograms.encode(histogram),
            }
        )
    live = {"start_epoch": time.time() - seconds, "seconds": rows, "total_requests": 20 * seconds}
    (run_dir / "live.json").write_text(json.dumps(live))


def waits(run_dir: Path) -> list[dict[str, Any]]:
    lines = (run_dir / "events.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["type"] == "steady_state_wait"]


def test_the_wait_uses_the_window_and_thresholds_of_the_experiments_own_probe() -> None:
    experiment = load_experiment(EXPERIMENTS / "redis-down.json", {"window_s": 8})
    assert steady_state_of(experiment, {}) == SteadyState(8, 500.0, 0.001)
    # --var and the SLO file's thresholds reach `chaos run` as variables: they win
    steady = steady_state_of(experiment, {"p95_max_ms": 300.0, "error_rate_max": 0.01})
    assert steady == SteadyState(8, 300.0, 0.01)


def test_a_broken_window_keeps_the_gate_closed_until_it_holds(tmp_path: Path) -> None:
    make_live(tmp_path, errors=3)  # 3 of 200 requests: 1.5% > 0.1%
    gate = SettleGate("postgres-down", STEADY, tmp_path, timeout_s=60)
    assert not gate.poll(100.0)
    assert not gate.poll(101.0)
    make_live(tmp_path, errors=0)
    assert not gate.poll(101.5)  # checked at most once a second
    assert gate.poll(104.0)
    assert (gate.held, gate.waited_s) == (True, 4.0)
    started, held = waits(tmp_path)
    assert started["result"] == "started" and started["name"] == "postgres-down"
    assert started["timeout_s"] == 60 and started["window_s"] == 10
    assert held["result"] == "held" and held["waited_s"] == 4.0
    assert held["value"]["error_rate"] == 0.0 and held["value"]["requests"] == 200


def test_slow_answers_break_the_window_too(tmp_path: Path) -> None:
    make_live(tmp_path, latency_ms=900.0)
    gate = SettleGate("redis-latency", STEADY, tmp_path, timeout_s=5)
    assert not gate.poll(0.0)
    assert gate.held is None


def test_a_wait_that_never_holds_gives_up_at_its_bound(tmp_path: Path) -> None:
    make_live(tmp_path, errors=5)
    gate = SettleGate("postgres-down", STEADY, tmp_path, timeout_s=3)
    assert not gate.poll(50.0)
    assert not gate.poll(52.0)
    assert gate.poll(53.0)
    assert (gate.held, gate.waited_s) == (False, 3.0)
    assert [w["result"] for w in waits(tmp_path)] == ["started", "gave_up"]
    assert gate.outcome() == {"waited_s": 3.0, "held": False, "timeout_s": 3, "started_s": 50.0}


def test_no_live_data_yet_is_not_a_steady_state(tmp_path: Path) -> None:
    gate = SettleGate("redis-down", STEADY, tmp_path, timeout_s=10)
    assert not gate.poll(0.0)


def _suite(run_dir: Path, *names: str, settle_timeout_s: float = 60.0) -> SuiteSidecar:
    suite = suite_of(
        [load_experiment(EXPERIMENTS / f"{n}.json") for n in names],
        cooldown_s=5.0,
        settle_timeout_s=settle_timeout_s,
    )
    return SuiteSidecar(suite, run_dir, StackSettings(), {}, service_url="http://127.0.0.1:1")


def _done(sidecar_index: int, suite: SuiteSidecar, *, started_s: float) -> None:
    """As if experiment i had started at started_s and its `chaos run` had ended."""
    suite.sidecars[sidecar_index].proc = subprocess.Popen(["true"])
    suite.sidecars[sidecar_index].proc.wait()  # type: ignore[union-attr]
    suite.started_s[sidecar_index] = started_s


def test_the_next_experiment_is_due_after_the_one_before_really_started(tmp_path: Path) -> None:
    suite = _suite(tmp_path, "redis-down", "rabbitmq-down")
    redis = suite.suite.experiments[0]
    _done(0, suite, started_s=30.0)  # 20 s later than planned: an earlier wait
    assert suite.due_s(1) == 30.0 + redis.planned_method_s + redis.recovery_s + 5.0


def test_a_due_experiment_waits_while_the_steady_state_is_broken(tmp_path: Path) -> None:
    make_live(tmp_path, errors=4)
    suite = _suite(tmp_path, "redis-down", "rabbitmq-down")
    _done(0, suite, started_s=10.0)
    due = suite.due_s(1)
    suite.tick(due - 1.0)
    assert suite.gates[1] is not None and suite.gates[1].started_s is None  # not due yet
    for second in range(5):
        suite.tick(due + second)
    assert suite.sidecars[1].proc is None and suite.started_s[1] is None
    assert [w["result"] for w in waits(tmp_path)] == ["started"]


def test_the_load_ends_after_the_last_recovery_once_the_steady_state_held_again(
    tmp_path: Path,
) -> None:
    make_live(tmp_path, errors=2)  # the last experiment's after-effects
    suite = _suite(tmp_path, "redis-down", "rabbitmq-down")
    broker = suite.suite.experiments[1]
    assert suite.suite.wait_budget_s == 120.0  # before the second, and after it
    _done(0, suite, started_s=10.0)
    assert not suite.load_complete(10_000.0)  # the last one has not started
    _done(1, suite, started_s=100.0)
    end = 100.0 + broker.planned_method_s + broker.recovery_s
    assert not suite.load_complete(end - 0.5)  # its planned recovery is not over
    assert not suite.load_complete(end)  # over, but the steady state does not hold
    make_live(tmp_path)
    assert suite.load_complete(end + 3)  # held again: the load may end, long before its bound
    assert suite.final_gate is not None and suite.final_gate.waited_s == 3.0
    assert [(w["stage"], w["result"]) for w in waits(tmp_path)] == [
        ("after", "started"),
        ("after", "held"),
    ]


def test_the_load_never_ends_before_the_duration_asked_for(tmp_path: Path) -> None:
    make_live(tmp_path)
    suite = _suite(tmp_path, "redis-down", "rabbitmq-down")
    broker = suite.suite.experiments[1]
    _done(0, suite, started_s=10.0)
    _done(1, suite, started_s=100.0)
    end = 100.0 + broker.planned_method_s + broker.recovery_s
    suite.min_duration_s = end + 30  # --duration asked for more
    assert not suite.load_complete(end)
    assert suite.load_complete(end + 30)


def test_a_wait_after_the_last_experiment_gives_up_at_its_bound_too(tmp_path: Path) -> None:
    make_live(tmp_path, errors=2)
    suite = _suite(tmp_path, "redis-down", "rabbitmq-down", settle_timeout_s=5)
    broker = suite.suite.experiments[1]
    _done(0, suite, started_s=10.0)
    _done(1, suite, started_s=100.0)
    end = 100.0 + broker.planned_method_s + broker.recovery_s
    assert not suite.load_complete(end)
    assert suite.load_complete(end + 5)
    assert suite.final_gate is not None and suite.final_gate.held is False


def test_a_suite_without_waits_keeps_its_planned_end(tmp_path: Path) -> None:
    """`gameday run --experiment X`: a suite of one, no waits; Locust ends it on plan."""
    suite = _suite(tmp_path, "redis-down", settle_timeout_s=0)
    assert suite.gates == [None] and suite.final_gate is None
    assert suite.suite.wait_budget_s == 0
    _done(0, suite, started_s=10.0)
    assert not suite.load_complete(10_000.0)


def test_the_faults_of_an_experiment_are_the_names_its_method_returned() -> None:
    journal = {
        "run": [
            _record("gameday.chaos.faults", "disable_proxy", "redis-down"),
            _record("gameday.chaos.faults", "enable_proxy", None),
            _record("gameday.chaos.probes", "breaker_state", "open"),  # a probe, not a fault
            _record("gameday.chaos.processes", "kill_worker", "service-worker-killed"),
        ]
    }
    assert injected_faults(journal) == ["redis-down", "service-worker-killed"]
    assert injected_faults({}) == []  # never started: no journal


def _record(module: str, func: str, output: object) -> dict[str, Any]:
    provider = {"type": "python", "module": module, "func": func}
    return {"activity": {"name": func, "provider": provider}, "output": output}


def test_the_last_resort_reset_touches_only_the_proxies_the_experiment_names(
    tmp_path: Path,
) -> None:
    assert proxies_named(load_experiment(EXPERIMENTS / "redis-down.json"), {}) == {"redis"}
    slow = load_experiment(EXPERIMENTS / "slow-network.json")
    assert proxies_named(slow, {}) == {"postgres", "redis", "rabbitmq", "opensearch"}
    killed = load_experiment(EXPERIMENTS / "service-worker-killed.json")
    assert proxies_named(killed, {}) == set()  # process faults: no proxy reset at all
    data = json.loads((EXPERIMENTS / "redis-down.json").read_text())
    data["configuration"]["target"] = "redis"
    data["method"][0]["provider"]["arguments"]["proxy"] = "${target}"
    data["rollbacks"].append(
        {
            "type": "action",
            "name": "everything",
            "provider": {"type": "python", "module": "gameday.chaos.faults", "func": "reset_all"},
        }
    )
    path = tmp_path / "reset-everything.json"
    path.write_text(json.dumps(data))
    assert proxies_named(load_experiment(path), {}) is None  # reset_all names none: all
    data["rollbacks"].pop()
    path.write_text(json.dumps(data))
    assert proxies_named(load_experiment(path), {}) == {"redis"}  # ${target} resolved
