"""The verdict as lines of text, from the summary alone: `gameday run`, `gameday
gameday`, `gameday matrix` and `gameday report` print these same lines and exit with
the same code, so a report rebuilt from the run directory says what the run said.

    for line in verdict_lines(summary, run_dir / "index.html"):
        print(line)
    sys.exit(exit_code(summary))
"""

from __future__ import annotations

from pathlib import Path

from gameday.report.resilience import score_line
from gameday.report.summary import Summary
from gameday.rundir import ExperimentOutcome, SteadyStateWait

EXIT_CODES = {"pass": 0, "fail": 1, "error": 2}


def exit_code(summary: Summary) -> int:
    """0 pass, 1 fail, 2 error."""
    return EXIT_CODES[summary.verdict.value]


def verdict_lines(summary: Summary, page: Path) -> list[str]:
    """Lost writes, how each experiment ended, why the data is in error, the violated objectives,
    the resilience score, and the verdict with the report's page last."""
    lines: list[str] = []
    if summary.reconciliation is not None:
        rec = summary.reconciliation
        lines.append(f"lost writes {rec.lost}, RPO {rec.rpo_s:.1f}s")
    for outcome in summary.outcomes:
        lines += _experiment_lines(outcome)
    lines += [f"  error: {reason}" for reason in summary.reasons]
    for result in summary.violated():
        measured = "nothing" if result.measured is None else f"{result.measured:g} {result.unit}"
        lines.append(
            f"  violated: {result.name}: {measured} "
            f"(target {result.comparator} {result.target:g} {result.unit})"
        )
    if summary.resilience is not None:
        lines.append(score_line(summary.resilience))
    lines.append(f"verdict {summary.verdict.value.upper()}  report: {page}")
    return lines


def _experiment_lines(outcome: ExperimentOutcome) -> list[str]:
    error = f" - {outcome.error}" if outcome.error else ""
    before = _wait_line(outcome.name, outcome.steady_state_wait, "before")
    after = _wait_line(outcome.name, outcome.steady_state_wait_after, "after")
    inferred = " (fault window inferred from its journal)" if outcome.inferred_window else ""
    line = f"experiment {outcome.name}: {outcome.verdict.upper()}{error}{inferred}"
    return [x for x in (before, line, after) if x is not None]


def _wait_line(name: str, wait: SteadyStateWait | None, stage: str) -> str | None:
    """The wait for the steady state before the experiment (`stage` before) or after
    it, the last of a suite (after); None: no such wait."""
    if wait is None or wait.held is None:
        return None
    if wait.held:
        return f"steady state {stage} {name}: held after {wait.waited_s:g}s"
    return f"steady state {stage} {name}: did not hold within {wait.timeout_s:g}s" + (
        "; started anyway" if stage == "before" else "; the load ended"
    )
