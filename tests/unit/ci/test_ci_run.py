"""`.ci/run`, the CI that gates every submission: `make bootstrap` (the servers and
tools, promtool among them), `make lint`, then `make test`, and
any failure on the way (pytest's exit 5, no tests collected, included) fails the run."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
CI_RUN = ROOT / ".ci" / "run"


def _run_with_fake_make(tmp_path: Path, exit_codes: dict[str, int]) -> tuple[int, list[str]]:
    """Runs .ci/run with a `make` that records its target and exits as told."""
    calls = tmp_path / "calls"
    fake = tmp_path / "bin" / "make"
    fake.parent.mkdir()
    codes = " ".join(f"{target}) exit {code};;" for target, code in exit_codes.items())
    fake.write_text(f'#!/bin/sh\necho "$*" >> {calls}\ncase "$1" in {codes} esac\nexit 0\n')
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run([str(CI_RUN)], env=env, capture_output=True, timeout=30, check=False)
    return result.returncode, calls.read_text().split("\n")[:-1] if calls.exists() else []


def test_ci_run_bootstraps_lints_then_tests(tmp_path: Path) -> None:
    assert _run_with_fake_make(tmp_path, {}) == (0, ["bootstrap", "lint", "test"])


@pytest.mark.parametrize(
    ("codes", "ran"),
    [
        ({"bootstrap": 1}, ["bootstrap"]),
        ({"lint": 1}, ["bootstrap", "lint"]),
        ({"test": 1}, ["bootstrap", "lint", "test"]),
        # make's own exit when pytest collects no tests (pytest exit 5) is 2
        ({"test": 2}, ["bootstrap", "lint", "test"]),
        ({"test": 5}, ["bootstrap", "lint", "test"]),
    ],
    ids=["bootstrap-fails", "lint-fails", "tests-fail", "make-reports-no-tests", "no-tests-exit-5"],
)
def test_a_failing_step_fails_ci_run_and_stops_it(
    tmp_path: Path, codes: dict[str, int], ran: list[str]
) -> None:
    returncode, calls = _run_with_fake_make(tmp_path, codes)
    assert returncode != 0
    assert calls == ran


def _dry_run(target: str) -> str:
    # -B: print the venv's recipe too, even where the venv is up to date
    result = subprocess.run(
        ["make", "-n", "-B", target], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_make_lint_builds_only_the_venv_then_runs_ruff_and_mypy() -> None:
    commands = _dry_run("lint")
    assert "pip install" in commands and "-e '.[dev]'" in commands
    assert ".venv/bin/ruff check ." in commands and ".venv/bin/mypy" in commands
    assert "stack" not in commands, "make lint must not need the stack"


def test_make_test_unit_runs_the_unit_tests_without_the_stack() -> None:
    commands = _dry_run("test-unit")
    assert ".venv/bin/pytest tests/unit" in commands
    assert "stack" not in commands


def test_make_test_runs_the_three_sessions_of_tests_lanes() -> None:
    assert ".venv/bin/python -m tests.lanes" in _dry_run("test")
