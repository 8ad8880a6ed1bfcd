"""A RunPlan says what will run before anything runs: `gameday gameday` printed
`... 20 rps for 1s` as its first line, then extended the load to the suite's length."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.app import RunPlan, build_plan
from gameday.chaos.experiment import load_experiment
from gameday.chaos.suite import Suite, load_suite, suite_of
from gameday.errors import ConfigError
from gameday.slo.model import SloFile

ROOT = Path(__file__).resolve().parents[3]
EXPERIMENTS = ROOT / "experiments"


def _plan(suite: Suite | None, duration: str | None, **extra: object) -> RunPlan:
    fields: dict[str, object] = {
        "scenario": "search_mix",
        "shape": None,
        "rate": 20.0,
        "users": None,
        "spawn_rate": None,
        "duration": duration,
        "workers": 0,
        "tenants": 5,
        "seed": 42,
        "out": None,
        "via_proxy": False,
        "target": "http://127.0.0.1:1",
        "suite": suite,
        "experiment_source": None,
        "slo_path": ROOT / "slo.yaml",
        "slo_file": SloFile(),
        "rpo_grace": "30s",
        **extra,
    }
    return build_plan(**fields)  # type: ignore[arg-type]


def test_a_game_days_first_line_says_the_suites_length() -> None:
    suite = load_suite(EXPERIMENTS / "suite.yaml")
    plan = _plan(suite, None)  # as `gameday gameday` builds it: no --duration
    planned = suite.planned_total_s + suite.wait_budget_s
    assert plan.duration_s == planned and plan.notes == []
    line = plan.headline(Path("reports/x"))
    assert line == f"run x: search_mix / constant-rate / 20 rps for {planned:.0f}s -> reports/x"
    assert "for 1s" not in line


def test_a_run_shorter_than_its_experiment_is_extended_and_the_first_line_says_so() -> None:
    suite = suite_of([load_experiment(EXPERIMENTS / "redis-down.json")])
    plan = _plan(suite, "10s")
    assert plan.duration_s == suite.planned_total_s > 10
    assert plan.notes and plan.notes[0].startswith(
        f"duration extended to {suite.planned_total_s:.0f}s"
    )
    assert plan.headline(Path("r")).endswith(f" for {suite.planned_total_s:.0f}s -> r")
    assert plan.min_duration_s == 10.0  # the load never ends before what was asked


def test_a_run_without_experiments_keeps_the_duration_as_written() -> None:
    plan = _plan(None, "1m")
    assert plan.duration_s == 60 and plan.headline(Path("r")).endswith(" for 1m -> r")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"duration": "0s"}, "--duration must be positive"),
        ({"workers": -1}, "--workers must be 0 or more"),
        ({"duration": None}, "--duration is needed"),
        ({"ready_timeout": "0s"}, "--ready-timeout must be positive"),
        ({"ready_timeout": "a minute"}, "invalid --ready-timeout 'a minute'"),
    ],
    ids=["zero-duration", "negative-workers", "no-duration-no-suite", "zero-ready", "bad-ready"],
)
def test_a_bad_plan_is_refused_naming_the_flag(extra: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _plan(None, **{"duration": "1m", **extra})  # type: ignore[arg-type]


def test_the_ready_timeout_reaches_the_load_config() -> None:
    from gameday.app.session import validate_plan

    plan = _plan(None, "1m", rate=10, workers=32, ready_timeout="2m")
    assert validate_plan(plan).ready_timeout_s == 120
    assert validate_plan(_plan(None, "1m", rate=10)).ready_timeout_s == 60
