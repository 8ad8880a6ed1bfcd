from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gameday.chaos.experiment import load_experiment
from gameday.chaos.suite import load_suite, resilience_score, score_line, suite_of
from gameday.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]
EXPERIMENTS = ROOT / "experiments"


def test_experiments_run_one_after_another_with_cooldowns() -> None:
    redis = load_experiment(EXPERIMENTS / "redis-down.json")
    broker = load_experiment(EXPERIMENTS / "rabbitmq-down.json")
    suite = suite_of([redis, broker], cooldown_s=15)
    first, second = suite.starts_s()
    assert first == redis.warmup_s
    assert second == first + redis.planned_method_s + redis.recovery_s + 15
    assert suite.planned_total_s == second + broker.planned_method_s + broker.recovery_s


def test_the_shipped_suite_loads_its_experiments_beside_it() -> None:
    suite = load_suite(EXPERIMENTS / "suite.yaml")
    assert [e.name for e in suite.experiments] == ["redis-down", "rabbitmq-down"]
    assert suite.load["scenario"] == "search_mix" and suite.cooldown_s == 15


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("title: x\nexperiments: []\n", "must list at least one"),
        ("title: x\nexperiment: [redis-down.json]\n", "unknown field 'experiment'"),
        ("title: x\nexperiments: [nope.json]\n", "nope.json does not exist"),
        ("title: x\nexperiments: [redis-down.json, redis-down.json]\n", "listed twice"),
    ],
    ids=["empty", "typo", "missing-file", "twice"],
)
def test_a_bad_suite_is_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    (tmp_path / "redis-down.json").write_text((EXPERIMENTS / "redis-down.json").read_text())
    with pytest.raises(ConfigError, match=message):
        load_suite(path)


def _objective(window: str, what: str, passed: bool, *, scope: str = "") -> dict[str, Any]:
    """An objective as gameday.report.build judges it: an experiment's own have scope
    experiment:WINDOW and phase fault:WINDOW."""
    return {
        "name": f"{window} {what}",
        "scope": scope or f"experiment:{window}",
        "phase": f"fault:{window}",
        "passed": passed,
    }


def _summary(*objectives: dict[str, Any]) -> dict[str, Any]:
    return {
        "experiments": [
            {"name": "redis-down", "injected_s": 9.9},
            {"name": "rabbitmq-down", "injected_s": 80.0},
        ],
        "objectives": list(objectives),
    }


OWN = (
    _objective("redis-down", "RTO", True),
    _objective("redis-down", "RPO", True),
    _objective("rabbitmq-down", "RTO", True),
    _objective("rabbitmq-down", "RPO", False),
)


def test_the_resilience_score_is_the_mean_share_of_each_experiments_own_objectives() -> None:
    summary = _summary(
        *OWN,
        # the whole run's objectives, even inside the fault window, are not an experiment's own
        _objective("redis-down", "error rate [fault:redis-down]", False, scope="overall"),
    )
    outcomes = [
        {"name": "redis-down", "verdict": "pass", "faults": ["redis-down"]},
        {"name": "rabbitmq-down", "verdict": "fail", "faults": ["rabbitmq-down"]},
    ]
    score = resilience_score(summary, outcomes)
    assert [e["score"] for e in score["experiments"]] == [100.0, 50.0]
    assert score["resilience_score"] == 75.0 and score["not_judged"] == []
    errored = [dict(outcomes[0]), {**outcomes[1], "verdict": "error"}]
    assert resilience_score(summary, errored)["resilience_score"] == 50.0
    json.dumps(score)  # suite.json is written from it


def test_a_during_objective_counts_by_its_scope_whatever_its_name() -> None:
    during = _objective("rabbitmq-down", "", False)
    during["name"] = "overall p95 latency [fault:rabbitmq-down]"  # no window name first
    outcomes = [{"name": "rabbitmq-down", "verdict": "fail", "faults": ["rabbitmq-down"]}]
    entry = resilience_score(_summary(*OWN, during), outcomes)["experiments"][0]
    assert (entry["objectives_met"], entry["objectives"], entry["score"]) == (1, 3, 33.3)


def test_an_experiment_without_objectives_of_its_own_is_not_judged_never_100() -> None:
    summary = _summary(*OWN[:2])  # rabbitmq-down's window was never judged
    outcomes = [
        {"name": "redis-down", "verdict": "pass", "faults": ["redis-down"]},
        {"name": "rabbitmq-down", "verdict": "pass", "faults": ["rabbitmq-down"]},
    ]
    score = resilience_score(summary, outcomes)
    broker = score["experiments"][1]
    assert broker["score"] is None and broker["judged"] is False and broker["objectives"] == 0
    assert score["resilience_score"] == 100.0  # the mean of the judged one only
    assert score["judged"] == 1 and score["not_judged"] == ["rabbitmq-down"]
    assert "not judged (no objectives of their own): rabbitmq-down" in score_line(score)


def test_a_suite_with_nothing_judged_has_no_score() -> None:
    outcomes = [{"name": "redis-down", "verdict": "error", "faults": []}]
    score = resilience_score(_summary(*OWN), outcomes)
    assert score["resilience_score"] is None and score["experiments"][0]["score"] is None
    assert score_line(score).startswith("resilience score: not judged")


def test_an_experiment_owns_the_faults_its_journal_names_even_before_its_planned_start() -> None:
    """The planned start (10.0 s) and the timeline's clock differ by a fraction of a second:
    reports/example's redis-down was injected at 9.948 s and once scored 0 of 0 objectives."""
    outcomes = [
        {"name": "redis-down", "verdict": "pass", "faults": ["redis-down"], "span_s": [10.0, None]}
    ]
    entry = resilience_score(_summary(*OWN), outcomes)["experiments"][0]
    assert (entry["objectives_met"], entry["objectives"], entry["score"]) == (2, 2, 100.0)


def test_without_journal_names_the_span_on_the_timeline_decides() -> None:
    outcomes = [
        {"name": "redis-down", "verdict": "pass", "span_s": [5.0, 70.0]},
        {"name": "rabbitmq-down", "verdict": "fail", "span_s": [70.0, None]},
    ]
    score = resilience_score(_summary(*OWN), outcomes)
    assert [e["objectives"] for e in score["experiments"]] == [2, 2]


def test_a_suite_file_may_bound_the_wait_for_the_steady_state(tmp_path: Path) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(
        "title: x\nsettle_timeout: 45s\nexperiments: [redis-down.json, rabbitmq-down.json]\n"
    )
    (tmp_path / "redis-down.json").write_text((EXPERIMENTS / "redis-down.json").read_text())
    (tmp_path / "rabbitmq-down.json").write_text((EXPERIMENTS / "rabbitmq-down.json").read_text())
    suite = load_suite(path)
    assert suite.settle_timeout_s == 45.0 and suite.wait_budget_s == 90.0  # before 2nd, after
    assert load_suite(EXPERIMENTS / "suite.yaml").settle_timeout_s == 60.0  # the default


def test_a_stop_condition_counts_only_beside_fault_objectives() -> None:
    """A safeguard that did not fire also holds when no fault was injected: alone it
    would score an experiment that proved nothing 100."""
    tripped = {
        "name": "rabbitmq-down stop condition",
        "scope": "experiment:rabbitmq-down",
        "phase": "run",
        "passed": False,
    }
    quiet = {**tripped, "scope": "experiment:redis-down", "passed": True}
    outcomes = [
        {"name": "redis-down", "verdict": "pass", "faults": []},  # its method never ran
        {"name": "rabbitmq-down", "verdict": "fail", "faults": ["rabbitmq-down"]},
    ]
    score = resilience_score(_summary(*OWN, tripped, quiet), outcomes)
    redis, broker = score["experiments"]
    assert redis["score"] is None and redis["objectives"] == 0
    assert (broker["objectives_met"], broker["objectives"]) == (1, 3)


def test_objectives_shown_for_information_only_are_not_counted() -> None:
    shown = {**_objective("rabbitmq-down", "PUT /v1/documents/{id}", False), "gating": False}
    outcomes = [{"name": "rabbitmq-down", "verdict": "pass", "faults": ["rabbitmq-down"]}]
    entry = resilience_score(_summary(*OWN, shown), outcomes)["experiments"][0]
    assert (entry["objectives_met"], entry["objectives"], entry["score"]) == (1, 2, 50.0)
