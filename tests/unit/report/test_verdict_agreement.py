"""The report decides the whole verdict: how each experiment ended (experiment.json)
and lost writes (reconciliation.json) are judged from the run directory, so
`gameday report RUN` prints the lines and exits with the code `gameday run` did
(both print `verdict_lines(summary)` and exit with `exit_code(summary)`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from factories import fault, make_run_dir, steady_samples

from gameday.report import write_report
from gameday.report.verdict_lines import exit_code, verdict_lines
from gameday.rundir import ExperimentOutcome

ROOT = Path(__file__).resolve().parents[3]
# So loose that only an experiment's end or a lost write can fail this run.
LENIENT_SLO = """
availability_pct: 50
overall:
  latency: {p95: 60s}
  error_rate_pct: 50
experiment_defaults: {rto: 10m, rpo: 10m}
"""
PASSED = {"status": "completed", "steady_state_before": True, "verdict": "pass"}
DEVIATED = {**PASSED, "deviated": True, "steady_state_after": False, "verdict": "fail"}
SKIPPED = {
    "status": "completed",
    "steady_state_before": False,
    "error": "the steady state was not met before the method: the method was skipped and "
    "the experiment proved nothing",
    "verdict": "error",
}


def _run_dir(tmp_path: Path, outcome: dict[str, Any], *, lost: int = 0) -> Path:
    run_dir = make_run_dir(
        tmp_path,
        samples=steady_samples(seconds=40, rps=10),
        events=fault("redis-down", 10.0, 15.0, target="redis"),
        reconciliation={
            "acknowledged": 10,
            "present": 10 - lost,
            "lost": lost,
            "lost_ids": [f"doc-{i}" for i in range(lost)],
            "rpo_s": 0.0 if not lost else 1.0,
        },
        slo_yaml=LENIENT_SLO,
    )
    experiment = ExperimentOutcome.model_validate(
        {"name": "redis-down", "title": "Redis down", "faults": ["redis-down"], **outcome}
    )
    (run_dir / "experiment.json").write_text(experiment.model_dump_json(indent=2))
    return run_dir


@pytest.mark.parametrize(
    ("outcome", "lost", "verdict", "line"),
    [
        (PASSED, 0, "pass", "experiment redis-down: PASS"),
        (DEVIATED, 0, "fail", "  violated: redis-down ended as planned: 1 failures"),
        (SKIPPED, 0, "error", "  error: experiment redis-down: the steady state was not met"),
        (PASSED, 2, "fail", "  violated: lost writes [run]: 2 writes (target <= 0 writes)"),
    ],
    ids=["passed", "deviated", "proved-nothing", "lost-writes"],
)
def test_the_summary_alone_decides_what_the_run_decided(
    tmp_path: Path, outcome: dict[str, Any], lost: int, verdict: str, line: str
) -> None:
    """Before, `gameday run` combined the summary's verdict with the experiment's and
    with lost writes, and `gameday report` on the same directory said PASS."""
    summary = write_report(_run_dir(tmp_path, outcome, lost=lost))
    lines = verdict_lines(summary, tmp_path / "run" / "index.html")
    assert summary.verdict == verdict and exit_code(summary) == {"pass": 0, "fail": 1}.get(
        verdict, 2
    )
    assert any(x.startswith(line) for x in lines), lines
    assert lines[-1] == f"verdict {verdict.upper()}  report: {tmp_path / 'run' / 'index.html'}"
    assert (
        summary.resilience is not None
        and summary.resilience.experiments[0].verdict == (outcome["verdict"])
    )


def test_gameday_report_prints_the_verdict_lines_and_exits_with_their_code(
    tmp_path: Path,
) -> None:
    run_dir = _run_dir(tmp_path, DEVIATED, lost=1)
    expected = write_report(run_dir)
    result = subprocess.run(
        [sys.executable, "-m", "gameday.cli", "report", str(run_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.stdout.splitlines() == verdict_lines(expected, run_dir / "index.html")
    assert result.returncode == exit_code(expected) == 1, result.stderr
    assert (run_dir / "suite.json").exists()  # the score's view, rewritten by the report


def test_the_run_facts_name_the_experiment_the_run_had(tmp_path: Path) -> None:
    """`make demo`'s report said `experiment none` for a run with an experiment: run.json
    had no experiment recorded. A run directory without it still has experiment.json."""
    summary = write_report(_run_dir(tmp_path, PASSED))
    assert summary.run.experiment == "redis-down"
    page = (tmp_path / "run" / "index.html").read_text()
    assert "<span>experiment</span> none" not in page
    assert "<span>experiment</span> redis-down" in page
