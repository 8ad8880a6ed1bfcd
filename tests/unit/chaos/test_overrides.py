"""`--var NAME=NUMBER`: an experiment's configuration overridden for the plan (pauses,
warm-up, recovery) and for `chaos run`; bad pairs and unknown names are one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gameday.chaos.experiment import (
    InvalidExperiment,
    check_overrides,
    load_experiment,
    parse_overrides,
)
from gameday.errors import ConfigError
from gameday.settings import PROJECT_ROOT

REDIS_DOWN = PROJECT_ROOT / "experiments" / "redis-down.json"


def test_a_shorter_fault_shortens_the_plan_by_the_difference() -> None:
    default = load_experiment(REDIS_DOWN)
    short = load_experiment(REDIS_DOWN, {"fault_s": 5.0})
    assert default.configuration["fault_s"] == 20
    assert default.planned_method_s - short.planned_method_s == 15
    assert short.configuration["fault_s"] == 5.0
    assert short.data == default.data  # the file's text is what `chaos run` substitutes


def test_warmup_and_recovery_may_name_configuration_keys(tmp_path: Path) -> None:
    data = json.loads(REDIS_DOWN.read_text())
    data["configuration"]["settle_s"] = 7
    data["extensions"] = [{"name": "gameday", "warmup_s": "${settle_s}", "recovery_s": 3}]
    path = tmp_path / "e.json"
    path.write_text(json.dumps(data))
    assert load_experiment(path).warmup_s == 7
    assert load_experiment(path, {"settle_s": 2}).warmup_s == 2


def test_a_pause_naming_a_missing_key_names_it_and_the_fix(tmp_path: Path) -> None:
    data = json.loads(REDIS_DOWN.read_text())
    data["method"][0]["pauses"] = {"after": "${outage_s}"}
    path = tmp_path / "e.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InvalidExperiment, match=r"method\[0\].pauses.after names \$\{outage_s\}"):
        load_experiment(path)
    with pytest.raises(InvalidExperiment, match="--var outage_s=SECONDS"):
        load_experiment(path)


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        (["fault_s"], "expected NAME=NUMBER"),
        (["=5"], "expected NAME=NUMBER"),
        (["fault_s=ten"], "'ten' is not a number"),
    ],
)
def test_a_malformed_pair_is_refused(pairs: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_overrides(pairs)


def test_a_name_no_experiment_has_is_refused_with_the_known_names() -> None:
    assert parse_overrides(["fault_s=8", "window_s=5"]) == {"fault_s": 8.0, "window_s": 5.0}
    with pytest.raises(ConfigError, match="--var fualt_s: no experiment has") as caught:
        check_overrides({"fualt_s": 8.0}, [load_experiment(REDIS_DOWN)])
    assert "fault_s" in str(caught.value)


def test_the_cli_refuses_an_unknown_var_in_one_line_before_any_load(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SERVICE_", "GAMEDAY_"))}
    done = subprocess.run(
        [
            *(sys.executable, "-m", "gameday.cli", "run"),
            *("--experiment", str(REDIS_DOWN), "--var", "fualt_s=8"),
            *("--out", str(tmp_path / "run")),
        ],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--var fualt_s" in lines[0], done.stderr
    assert not (tmp_path / "run").exists()


def test_warmup_and_recovery_are_set_by_var_for_any_experiment() -> None:
    """redis-down declares neither key: the harness's timeline reads them all the same."""
    assert "recovery_s" not in json.loads(REDIS_DOWN.read_text())["configuration"]
    default = load_experiment(REDIS_DOWN)
    short = load_experiment(REDIS_DOWN, {"warmup_s": 4.0, "recovery_s": 6.0})
    assert (default.warmup_s, default.recovery_s) == (10, 20)
    assert (short.warmup_s, short.recovery_s) == (4.0, 6.0)
    assert default.planned_total_s - short.planned_total_s == 20
    check_overrides({"warmup_s": 4.0, "recovery_s": 6.0}, [short])  # known to every experiment


def test_a_negative_timeline_override_is_refused_in_one_line() -> None:
    with pytest.raises(InvalidExperiment, match=r"--var recovery_s=-1 is negative"):
        load_experiment(REDIS_DOWN, {"recovery_s": -1.0})
