from __future__ import annotations

from pathlib import Path

import pytest

from gameday.chaos.experiment import load_experiment
from gameday.chaos.suite import load_suite, suite_of
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
