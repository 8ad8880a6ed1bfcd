"""A user's experiment (chaostoolkit-toxiproxy, their own providers) records no fault on
the timeline: the report judges the window inferred from its journal like a recorded
one, and says it was inferred. A signals source that did not answer makes it ERROR."""

from __future__ import annotations

import json
from pathlib import Path

from factories import START_EPOCH, event, make_run_dir, steady_samples

from gameday.report import write_report
from gameday.rundir import ExperimentOutcome, InferredWindow

SLO = """
availability_pct: 50
overall:
  latency: {p95: 60s}
  error_rate_pct: 50
experiment_defaults: {rto: 10m}
"""


def _outcome(window: InferredWindow | None) -> ExperimentOutcome:
    return ExperimentOutcome(
        name="toxi-latency",
        title="a chaostoolkit-toxiproxy latency",
        status="completed",
        steady_state_before=True,
        steady_state_after=True,
        inferred_window=window,
        verdict="pass",
    )


def _run(tmp_path: Path, outcome: ExperimentOutcome, events: list[dict[str, object]]) -> Path:
    run_dir = make_run_dir(
        tmp_path, samples=steady_samples(seconds=40, rps=10), events=events, slo_yaml=SLO
    )
    (run_dir / "experiment.json").write_text(outcome.model_dump_json(indent=2))
    return run_dir


def test_an_inferred_window_is_judged_as_the_experiments_own_and_said_to_be_inferred(
    tmp_path: Path,
) -> None:
    window = InferredWindow(
        start_epoch=START_EPOCH + 12.0, end_epoch=START_EPOCH + 22.5, until="last action"
    )
    run_dir = _run(tmp_path, _outcome(window), [event("experiment_started", 9.0, name="x")])
    summary = write_report(run_dir)

    (experiment,) = summary.experiments
    assert (experiment.name, experiment.fault) == ("toxi-latency", "inferred")
    assert (experiment.injected_s, experiment.removed_s) == (12.0, 22.5)
    assert experiment.inferred is not None and "first action" in experiment.inferred
    assert [p.name for p in summary.phases][:2] == ["steady", "fault:toxi-latency"]
    rto = next(o for o in summary.objectives if o.metric == "rto_s")
    assert rto.experiment == "toxi-latency" and rto.gating and rto.passed
    assert summary.resilience is not None
    assert summary.resilience.experiments[0].judged  # its own objectives: judged
    written = json.loads((run_dir / "summary.json").read_text())
    assert "inferred from the journal" in written["experiments"][0]["inferred"]
    assert written["outcomes"][0]["inferred_window"]["until"] == "last action"
    assert "inferred from the journal" in (run_dir / "index.html").read_text()


def test_a_recorded_window_is_not_said_to_be_inferred(tmp_path: Path) -> None:
    events = [
        event("fault_injected", 12.0, name="redis-down", target="redis", fault="down"),
        event("fault_removed", 20.0, name="redis-down", target="redis"),
    ]
    summary = write_report(_run(tmp_path, _outcome(None), events))
    (experiment,) = summary.experiments
    assert experiment.inferred is None and experiment.name == "redis-down"


def test_a_signals_source_unreachable_during_the_run_is_an_error_with_its_reason(
    tmp_path: Path,
) -> None:
    gap = event(
        "signals_unreachable",
        15.0,
        source="http://127.0.0.1:9/metrics",
        reason="ConnectError: refused",
        polls_failed=5,
    )
    run_dir = _run(tmp_path, _outcome(None), [gap])
    summary = write_report(run_dir)

    assert summary.verdict == "error"
    (reason,) = [r for r in summary.reasons if "signals source" in r]
    assert "http://127.0.0.1:9/metrics unreachable from 15.0 s on (5 polls" in reason
    assert "ConnectError: refused" in reason and "breaker states unknown" in reason
    written = json.loads((run_dir / "summary.json").read_text())
    assert written["verdict"] == "error" and reason in written["reasons"]
