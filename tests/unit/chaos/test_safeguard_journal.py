"""A stop condition that fires is recorded in the journal (gameday.chaos.safeguard, the
control `chaos run` loads) and read back into experiment.json by the sidecar: the
experiment was aborted by that safeguard, and its verdict is never pass."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from chaosaddons.controls import safeguards as chaosaddons_safeguards

from gameday.chaos import safeguard
from gameday.chaos.events import configuration_for
from gameday.chaos.experiment import load_experiment
from gameday.chaos.sidecar import ExperimentSidecar
from gameday.rundir import ExperimentOutcome
from gameday.settings import PROJECT_ROOT, StackSettings

EXPERIMENTS = PROJECT_ROOT / "experiments"
PROBE = "error-rate-below-50pct-over-30s"  # api-partition's stop condition
LOAD_START_EPOCH = datetime(2027, 1, 15, 8, 0, 0, tzinfo=UTC).timestamp()


def make_probe_run(*, end: str = "2027-01-15T08:00:12.500000") -> dict[str, Any]:
    """A safeguard probe's run as chaosaddons records it (naive UTC timestamps)."""
    return {
        "activity": {"type": "probe", "name": PROBE, "tolerance": True},
        "output": False,
        "status": "succeeded",
        "start": "2027-01-15T08:00:12.400000",
        "end": end,
        "duration": 0.1,
    }


def make_journal(
    *, status: str = "completed", method_ran: bool = True, **extra: Any
) -> dict[str, Any]:
    experiment = json.loads((EXPERIMENTS / "api-partition.json").read_text())
    journal: dict[str, Any] = {
        "experiment": experiment,
        "status": status,
        "deviated": False,
        "steady_states": {"before": {"steady_state_met": True}},
        "rollbacks": [{"activity": {"name": "api-back"}, "status": "succeeded"}],
        **extra,
    }
    if method_ran:
        journal["run"] = [{"activity": {"name": "api-down"}, "status": "succeeded"}]
    return journal


def tripped_journal(**extra: Any) -> dict[str, Any]:
    journal = make_journal(status="interrupted", **extra)
    journal["extensions"] = [
        {"name": "gameday", "safeguard": {"probe": PROBE, "run": make_probe_run()}}
    ]
    return journal


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A run directory whose load started at a known epoch."""
    (tmp_path / "live.json").write_text(json.dumps({"start_epoch": LOAD_START_EPOCH}))
    return tmp_path


@pytest.fixture
def guardian(monkeypatch: pytest.MonkeyPatch) -> chaosaddons_safeguards.Guardian:
    """chaosaddons' own guardian, in place of the process-wide one."""
    fresh = chaosaddons_safeguards.Guardian()
    fresh.prepare([])
    monkeypatch.setattr(chaosaddons_safeguards, "guardian", fresh)
    return fresh


def _events(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_journal_without_the_gameday_extension_names_no_safeguard() -> None:
    assert safeguard.tripped_safeguard(make_journal()) is None
    assert safeguard.tripped_safeguard(make_journal(extensions=[{"name": "other"}])) is None


def test_the_fired_safeguard_is_read_from_the_journal_extension() -> None:
    assert safeguard.tripped_safeguard(tripped_journal()) == PROBE


def test_the_declared_stop_conditions_are_read_from_the_experiment_in_the_journal() -> None:
    assert safeguard.declared_safeguards(make_journal()) == [PROBE]
    assert safeguard.declared_safeguards({"experiment": {"controls": []}}) == []


def test_the_control_copies_a_fired_safeguard_into_the_journal_and_onto_the_timeline(
    run_dir: Path, guardian: chaosaddons_safeguards.Guardian
) -> None:
    guardian.interrupt_now(PROBE, make_probe_run(end="2027-01-15T08:00:12.500000"))
    guardian.interrupted = True  # what its interrupter thread sets as it sends SIGUSR1
    journal = make_journal(status="interrupted")

    safeguard.after_experiment_control(
        context=journal["experiment"], state=journal, configuration=configuration_for(run_dir)
    )

    assert safeguard.tripped_safeguard(journal) == PROBE
    (event,) = _events(run_dir)
    assert event["type"] == "safeguard_tripped"
    assert event["probe"] == PROBE and event["value"] is False
    # dated when the probe found the condition breached (12.5 s into the load), not when
    # the journal was written
    assert event["t_s"] == pytest.approx(12.5, abs=0.001)


def test_a_safeguard_that_did_not_end_the_experiment_is_not_recorded(
    run_dir: Path, guardian: chaosaddons_safeguards.Guardian
) -> None:
    # triggered as the experiment was already finishing: chaosaddons does not interrupt
    guardian.interrupt_now(PROBE, make_probe_run())
    journal = make_journal()

    safeguard.after_experiment_control(
        context=journal["experiment"], state=journal, configuration=configuration_for(run_dir)
    )

    assert safeguard.tripped_safeguard(journal) is None
    assert "extensions" not in journal
    assert _events(run_dir) == []


def _summarised(tmp_path: Path, journal: dict[str, Any]) -> ExperimentOutcome:
    sidecar = ExperimentSidecar(
        load_experiment(EXPERIMENTS / "api-partition.json"), tmp_path, StackSettings(), {}
    )
    sidecar.proc = subprocess.Popen(["true"])
    sidecar.proc.wait()
    sidecar.journal_path.write_text(json.dumps(journal))
    return ExperimentOutcome.model_validate(sidecar._summarise([]))


def test_an_experiment_aborted_by_its_safeguard_fails_and_says_so(tmp_path: Path) -> None:
    outcome = _summarised(tmp_path, tripped_journal())
    assert outcome.aborted_by_safeguard is True
    assert outcome.safeguard == PROBE
    assert outcome.error == f"aborted by safeguard: {PROBE}"
    assert outcome.verdict == "fail"
    assert [(r.name, r.status) for r in outcome.rollbacks] == [("api-back", "succeeded")]


def test_a_safeguard_that_fired_before_the_method_leaves_nothing_proven(tmp_path: Path) -> None:
    journal = tripped_journal()
    del journal["run"]
    outcome = _summarised(tmp_path, journal)
    assert outcome.aborted_by_safeguard is True
    assert outcome.verdict == "error"
    assert outcome.error is not None and "before the method" in outcome.error


def test_an_interruption_that_no_safeguard_caused_is_not_blamed_on_one(tmp_path: Path) -> None:
    outcome = _summarised(tmp_path, make_journal(status="interrupted"))
    assert outcome.aborted_by_safeguard is False and outcome.safeguard is None
    assert outcome.error == "the experiment ended with status 'interrupted'"
    assert outcome.verdict == "fail"


def test_a_completed_experiment_passes_with_its_stop_condition_declared(tmp_path: Path) -> None:
    outcome = _summarised(tmp_path, make_journal())
    assert outcome.verdict == "pass" and outcome.error is None
    assert outcome.aborted_by_safeguard is False
    assert outcome.safeguards == [PROBE]
