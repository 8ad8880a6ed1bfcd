from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gameday.chaos.experiment import load_experiment
from gameday.chaos.suite import load_suite, resilience_score, suite_of
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


def _objective(name: str, phase: str, passed: bool) -> dict[str, Any]:
    return {"name": name, "phase": phase, "passed": passed}


def test_the_resilience_score_is_the_mean_share_of_each_experiments_own_objectives() -> None:
    summary = {
        "experiments": [
            {"name": "redis-down", "injected_s": 10.0},
            {"name": "rabbitmq-down", "injected_s": 80.0},
        ],
        "objectives": [
            _objective("redis-down RTO", "fault:redis-down", True),
            _objective("redis-down RPO", "fault:redis-down", True),
            _objective("rabbitmq-down RTO", "fault:rabbitmq-down", True),
            _objective("rabbitmq-down RPO", "fault:rabbitmq-down", False),
            # the whole run's objectives are not an experiment's own
            _objective("overall error rate [fault:redis-down]", "fault:redis-down", False),
        ],
    }
    outcomes = [
        {"name": "redis-down", "verdict": "pass", "span_s": [10.0, 70.0]},
        {"name": "rabbitmq-down", "verdict": "fail", "span_s": [70.0, float("inf")]},
    ]
    score = resilience_score(summary, outcomes)
    assert [e["score"] for e in score["experiments"]] == [100.0, 50.0]
    assert score["resilience_score"] == 75.0
    errored = [dict(outcomes[0]), {**outcomes[1], "verdict": "error"}]
    assert resilience_score(summary, errored)["resilience_score"] == 50.0
    json.dumps(score)  # suite.json is written from it
