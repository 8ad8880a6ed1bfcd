"""A run stops its load early only when every experiment skipped its method (the steady
state was unmet before it): read from each finished `chaos run`'s journal."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from gameday.chaos.experiment import load_experiment
from gameday.chaos.sidecar import SuiteSidecar
from gameday.chaos.suite import suite_of
from gameday.settings import PROJECT_ROOT, StackSettings

EXPERIMENTS = PROJECT_ROOT / "experiments"


def _suite_sidecar(run_dir: Path, *names: str) -> SuiteSidecar:
    suite = suite_of([load_experiment(EXPERIMENTS / f"{n}.json") for n in names])
    return SuiteSidecar(suite, run_dir, StackSettings(), {}, service_url="http://127.0.0.1:1")


def _finished(sidecar_index: int, suite: SuiteSidecar, *, steady_before: bool) -> None:
    sidecar = suite.sidecars[sidecar_index]
    sidecar.proc = subprocess.Popen(["true"])
    sidecar.proc.wait()
    journal = {
        "status": "completed",
        "steady_states": {"before": {"steady_state_met": steady_before}},
    }
    sidecar.journal_path.write_text(json.dumps(journal))


def test_a_skipped_method_stops_the_load(tmp_path: Path) -> None:
    suite = _suite_sidecar(tmp_path, "redis-down")
    assert suite.stop_reason() is None  # not started yet
    _finished(0, suite, steady_before=False)
    reason = suite.stop_reason()
    assert reason is not None and "no fault was injected" in reason


def test_a_method_that_ran_leaves_its_recovery_to_be_watched(tmp_path: Path) -> None:
    suite = _suite_sidecar(tmp_path, "redis-down")
    _finished(0, suite, steady_before=True)
    assert suite.stop_reason() is None


def test_in_a_suite_the_load_goes_on_while_another_experiment_may_still_run(
    tmp_path: Path,
) -> None:
    suite = _suite_sidecar(tmp_path, "redis-down", "rabbitmq-down")
    _finished(0, suite, steady_before=False)
    assert suite.stop_reason() is None
    _finished(1, suite, steady_before=False)
    assert suite.stop_reason() is not None
