"""The GitHub Actions workflow parses; on push it lints and runs the unit tests, and
nightly or on demand it runs the short game day it claims to."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
WORKFLOW = ROOT / ".github" / "workflows" / "gameday.yml"


EVENTS = ("push", "schedule", "workflow_dispatch")


@pytest.fixture(scope="module")
def workflow() -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text())
    return loaded


def _named_steps(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    named = {step.get("name", step.get("uses", "")): step for step in job["steps"]}
    assert len(named) == len(job["steps"]), "two steps share a name"
    return named


@pytest.fixture(scope="module")
def steps(workflow: dict[Any, Any]) -> dict[str, dict[str, Any]]:
    """The game day job's steps, by name."""
    return _named_steps(workflow["jobs"]["gameday"])


def _runs_on(job: dict[str, Any], event: str) -> bool:
    """Whether `job` runs for `event`: reads the only conditions used here."""
    condition = job.get("if")
    if condition is None:
        return True
    match = re.fullmatch(r"\$\{\{ github\.event_name (==|!=) '(\w+)' \}\}", condition)
    assert match, f"unreadable condition {condition!r}"
    return (event == match[2]) == (match[1] == "==")


def test_push_runs_lint_and_unit_tests_and_the_game_day_runs_nightly_or_on_demand(
    workflow: dict[Any, Any],
) -> None:
    # YAML 1.1 reads the bare key `on` as True
    triggers = workflow[True]
    assert set(triggers) == set(EVENTS)
    (cron,) = (entry["cron"] for entry in triggers["schedule"])
    assert len(cron.split()) == 5 and cron.split()[2:] == ["*", "*", "*"], "not daily"
    jobs = workflow["jobs"]
    assert set(jobs) == {"checks", "gameday"}
    running = {event: {n for n, job in jobs.items() if _runs_on(job, event)} for event in EVENTS}
    assert running == {
        "push": {"checks"},
        "schedule": {"gameday"},
        "workflow_dispatch": {"gameday"},
    }
    # a push cancels an earlier push's checks, never a running game day
    assert "github.event_name" in workflow["concurrency"]["group"]


def test_the_checks_job_lints_then_runs_the_unit_tests_without_the_stack(
    workflow: dict[Any, Any],
) -> None:
    job = workflow["jobs"]["checks"]
    checks = _named_steps(job)
    order = list(checks)
    assert order.index("actions/checkout@v4") < order.index("Lint") < order.index("Unit tests")
    assert checks["Lint"]["run"].strip() == "make lint"
    assert checks["Unit tests"]["run"].strip() == "make test-unit"
    assert not any("stack" in step.get("run", "") for step in job["steps"])
    assert job["container"] == workflow["jobs"]["gameday"]["container"]


def _gameday_argv(run: str) -> list[str]:
    argv = shlex.split(run.replace('"$RUN_DIR"', "reports/ci"))
    assert argv[0] == ".venv/bin/gameday", run
    return argv[1:]


def _known_flags(path: list[str]) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-m", "gameday.cli", *path, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"},
        check=True,
    )
    return set(re.findall(r"--[a-z][a-z0-9-]*", result.stdout))


def test_the_workflow_bootstraps_starts_the_stack_seeds_and_runs_redis_down(
    steps: dict[str, dict[str, Any]],
) -> None:
    order = list(steps)
    expected = ["Bootstrap", "Stack up", "Seed", "Game day"]
    assert [name for name in order if name in expected] == expected
    assert steps["Bootstrap"]["run"].strip() == "make bootstrap"
    assert _gameday_argv(steps["Stack up"]["run"])[:2] == ["stack", "up"]
    assert _gameday_argv(steps["Seed"]["run"])[0] == "seed"
    argv = _gameday_argv(steps["Game day"]["run"])
    assert argv[0] == "run"
    experiment = argv[argv.index("--experiment") + 1]
    assert experiment == "experiments/redis-down.json" and (ROOT / experiment).is_file()
    # writes fail closed without Redis: a mix with writes would fail the gate by design
    assert argv[argv.index("--scenario") + 1] == "read_only"


@pytest.mark.parametrize(
    ("step", "path"),
    [("Stack up", ["stack", "up"]), ("Seed", ["seed"]), ("Game day", ["run"])],
    ids=["stack-up", "seed", "run"],
)
def test_every_flag_the_workflow_passes_exists(
    steps: dict[str, dict[str, Any]], step: str, path: list[str]
) -> None:
    known = _known_flags(path)
    flags = [arg for arg in _gameday_argv(steps[step]["run"]) if arg.startswith("--")]
    assert set(flags) <= known, f"{step}: unknown {sorted(set(flags) - known)}"


def test_junit_xml_is_published_and_the_run_directory_uploaded_even_on_failure(
    steps: dict[str, dict[str, Any]],
) -> None:
    junit = next(s for s in steps.values() if "junit-report" in s.get("uses", ""))
    upload = next(s for s in steps.values() if "upload-artifact" in s.get("uses", ""))
    run_dir = "${{ env.RUN_DIR }}"
    assert junit["with"]["report_paths"] == f"{run_dir}/junit.xml"
    assert upload["with"]["path"] == run_dir
    for step in (junit, upload):
        assert step["if"] == "${{ !cancelled() }}"
    assert '--out "$RUN_DIR"' in steps["Game day"]["run"]
