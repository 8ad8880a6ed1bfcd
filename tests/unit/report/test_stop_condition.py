"""The report reads how each experiment ended (experiment.json): a stop condition that
fired is a failed objective, so the verdict is never PASS, and the page says so."""

from __future__ import annotations

import json
from pathlib import Path

from factories import event, fault, make_run_dir, steady_samples

from gameday.report import write_report
from gameday.rundir import ExperimentOutcome, RollbackOutcome

PROBE = "error-rate-below-50pct-over-8s"
# So loose that only the stop condition can fail this run (a 2 s outage inside 40 s).
LENIENT_SLO = """
availability_pct: 50
overall:
  latency: {p95: 60s}
  error_rate_pct: 50
experiment_defaults: {rto: 10m, rpo: 10m, max_lost_writes: 1000000}
"""


def make_outcome(*, aborted: bool) -> ExperimentOutcome:
    return ExperimentOutcome(
        name="api-cut",
        title="every path to the service cut",
        status="interrupted" if aborted else "completed",
        steady_state_before=True,
        safeguards=[PROBE],
        aborted_by_safeguard=aborted,
        safeguard=PROBE if aborted else None,
        rollbacks=[RollbackOutcome(name="api-back", status="succeeded")],
        error=f"aborted by safeguard: {PROBE}" if aborted else None,
        verdict="fail" if aborted else "pass",
    )


def _run_dir(tmp_path: Path, outcome: ExperimentOutcome | None) -> Path:
    events = [
        *fault("api-down", 10.0, 12.0, target="api"),
        event("safeguard_tripped", 11.5, probe=PROBE, title="every path to the service cut"),
    ]
    run_dir = make_run_dir(
        tmp_path,
        samples=steady_samples(seconds=40, rps=10),
        events=events,
        reconciliation={"acknowledged": 0, "present": 0, "lost": 0, "lost_ids": [], "rpo_s": 0.0},
        slo_yaml=LENIENT_SLO,
    )
    if outcome is not None:
        (run_dir / "experiment.json").write_text(outcome.model_dump_json(indent=2))
    return run_dir


def test_an_experiment_aborted_by_its_safeguard_fails_the_report(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path, make_outcome(aborted=True))
    summary = write_report(run_dir)

    assert summary.verdict == "fail"
    (violated,) = summary.violated()  # nothing else fails under the lenient SLO file
    assert violated.name == "api-cut stop condition"
    assert violated.note == f"aborted by safeguard: {PROBE}"
    written = json.loads((run_dir / "summary.json").read_text())
    assert written["outcomes"][0]["aborted_by_safeguard"] is True
    assert written["outcomes"][0]["safeguard"] == PROBE
    html = (run_dir / "index.html").read_text()
    assert "aborted by safeguard" in html and PROBE in html
    assert "api-cut stop condition" in (run_dir / "junit.xml").read_text()


def test_a_stop_condition_that_held_is_judged_and_passes(tmp_path: Path) -> None:
    summary = write_report(_run_dir(tmp_path, make_outcome(aborted=False)))

    assert summary.verdict == "pass"
    (held,) = [r for r in summary.objectives if r.name == "api-cut stop condition"]
    assert held.passed and held.gating and held.measured == 0


def test_a_run_without_experiment_json_has_no_outcomes_and_no_stop_condition(
    tmp_path: Path,
) -> None:
    summary = write_report(_run_dir(tmp_path, None))

    assert summary.outcomes == []
    assert not [r for r in summary.objectives if r.metric == "safeguard_tripped"]


def test_an_unreadable_experiment_json_makes_the_report_an_error(tmp_path: Path) -> None:
    run_dir = _run_dir(tmp_path, None)
    (run_dir / "experiment.json").write_text(json.dumps({"name": "api-cut"}))

    summary = write_report(run_dir)

    assert summary.verdict == "error"
    assert any(r.startswith("experiment.json is invalid") for r in summary.reasons)
