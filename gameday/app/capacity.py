"""The capacity search as sessions: each step is a short constant-rate run in its own
run directory under `CAP_DIR/steps/`, judged by the same report as any run; the
search (`gameday.load.capacity.find_capacity`) doubles the rate, then bisects.
Evidence first: capacity.json and capacity.html are written after every step.

    cap_dir = new_capacity_dir(out, "search_mix", slo_path)
    result = run_capacity(plan, cap_dir, on_step=print)
    result.capacity_rps
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from gameday.app.plan import RunPlan
from gameday.app.session import RunOutcome, run_session, validate_plan
from gameday.errors import ConfigError
from gameday.load.capacity import (
    CapacityReport,
    RateVerdict,
    Search,
    StepPhase,
    StepRecord,
    find_capacity,
    rate_verdicts,
)
from gameday.load.engine import REPORTS
from gameday.rundir import write_atomic


class CapacityPlan(BaseModel):
    """The search's bounds; `step` is the plan of one step (its rate and run directory
    are set per step)."""

    model_config = ConfigDict(frozen=True)

    step: RunPlan
    start_rps: float
    max_rps: float
    resolution_pct: float
    max_steps: int
    repeats: int = 1

    def check(self) -> None:
        if not 0 < self.start_rps <= self.max_rps:
            raise ConfigError(
                f"need 0 < --start-rate <= --max-rate, not {self.start_rps:g} and {self.max_rps:g}"
            )
        if self.resolution_pct <= 0 or self.max_steps < 1 or self.step.workers < 0:
            raise ConfigError(
                "--resolution-pct must be positive, --max-steps at least 1, --workers >= 0"
            )
        if self.repeats < 1:
            raise ConfigError(f"--repeats must be at least 1, not {self.repeats}")
        validate_plan(self.step)


def new_capacity_dir(out: Path | None, scenario: str, slo_path: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    cap_dir = (out if out is not None else REPORTS / f"{stamp}-capacity-{scenario}").absolute()
    if cap_dir.exists() and any(cap_dir.iterdir()):
        raise ConfigError(f"capacity directory {cap_dir} is not empty: choose another --out")
    (cap_dir / "steps").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(slo_path, cap_dir / "slo.yaml")
    return cap_dir


def run_capacity(
    plan: CapacityPlan,
    cap_dir: Path,
    *,
    on_step: Callable[[int, float], None] = lambda index, rate: None,
    on_measured: Callable[[StepRecord], None] = lambda step: None,
) -> CapacityReport:
    steps: list[StepRecord] = []

    def measure(rate: float) -> StepRecord:
        index = len(steps) + 1
        # climbing steps are above every earlier one; bisection goes between them; a
        # rate measured before is run again to confirm its verdict
        phase: StepPhase = (
            "confirm"
            if any(rate == s.rate_rps for s in steps)
            else "climb"
            if all(rate > s.rate_rps for s in steps)
            else "bisect"
        )
        on_step(index, rate)
        rel = Path("steps") / f"{index:02d}-{rate:g}rps"
        step_plan = plan.step.model_copy(
            update={"rate_rps": rate, "out": cap_dir / rel, "slo_path": cap_dir / "slo.yaml"}
        )
        step = _step_record(run_session(step_plan), index=index, phase=phase, rel=rel)
        steps.append(step)
        _write(cap_dir, _report(plan, steps, None))
        on_measured(step)
        return step

    search = find_capacity(
        measure,
        start_rps=plan.start_rps,
        max_rps=plan.max_rps,
        resolution_pct=plan.resolution_pct,
        max_steps=plan.max_steps,
        repeats=plan.repeats,
    )
    result = _report(plan, steps, search)
    _write(cap_dir, result)
    return result


def _step_record(outcome: RunOutcome, *, index: int, phase: StepPhase, rel: Path) -> StepRecord:
    summary, rate = outcome.summary, outcome.record.target_rps or 0.0
    overall = summary.overall
    return StepRecord(
        index=index,
        phase=phase,
        rate_rps=rate,
        run_dir=rel.as_posix(),
        verdict=summary.verdict.value,
        passed=summary.verdict.value == "pass",
        generator_valid=summary.run.generator_valid is not False,
        generator_reasons=list(summary.run.generator_reasons),
        # the report's rps spans the run's idle tail too; the open model scheduled
        # `rate` for `duration_s`, so completed/scheduled is the exact share
        achieved_rps=round(
            rate * overall.achieved_ratio
            if overall.achieved_ratio is not None
            else overall.count / (outcome.record.duration_s or 1.0),
            3,
        ),
        count=overall.count,
        error_rate_pct=overall.error_rate_pct,
        p50_ms=overall.p50_ms,
        p95_ms=overall.p95_ms,
        p99_ms=overall.p99_ms,
        violated=[
            f"{r.name}: {'nothing' if r.measured is None else f'{r.measured:g}'} {r.unit} "
            f"(target {r.comparator} {r.target:g} {r.unit})"
            for r in summary.violated()
        ],
        reasons=list(summary.reasons),
    )


def _report(
    plan: CapacityPlan, steps: list[StepRecord], search: Search[StepRecord] | None
) -> CapacityReport:
    """The report so far (`search` None: still searching; the highest rate that holds
    is shown as the capacity found until then)."""
    rates = rate_verdicts(steps)
    if search is not None:
        capacity_rps, first_failing = search.capacity_rps, search.first_failing_rps
        stopped, lower = search.stopped_because, search.lower_bound
    else:
        capacity_rps = max((r.rate_rps for r in rates if r.holds), default=None)
        first_failing = min(
            (r.rate_rps for r in rates if not r.holds and r.rate_rps > (capacity_rps or 0)),
            default=None,
        )
        stopped, lower = "max_steps", first_failing is None
    by_rate = {r.rate_rps: r for r in rates}
    knee = next((s for s in steps if s.passed and s.rate_rps == capacity_rps), None)
    lowest_failing = min((r.rate_rps for r in rates if not r.holds), default=None)
    return CapacityReport(
        scenario=plan.step.scenario,
        target_url=plan.step.target_url,
        slo_source=str(plan.step.slo_path),
        start_rps=plan.start_rps,
        max_rps=plan.max_rps,
        step_duration_s=plan.step.duration_s,
        resolution_pct=plan.resolution_pct,
        capacity_rps=capacity_rps,
        capacity_achieved_rps=knee.achieved_rps if knee else None,
        first_failing_rps=first_failing,
        lower_bound=lower and capacity_rps is not None,
        stopped_because=stopped,
        repeats=plan.repeats,
        rates=rates,
        capacity_confidence=_confidence(by_rate, capacity_rps),
        failing_confidence=_confidence(by_rate, first_failing),
        monotonic=lowest_failing is None
        or all(r.rate_rps < lowest_failing for r in rates if r.holds),
        steps=list(steps),
    )


def _confidence(by_rate: dict[float, RateVerdict], rate: float | None) -> float | None:
    verdict = by_rate.get(rate) if rate is not None else None
    return verdict.confidence if verdict is not None else None


def _write(cap_dir: Path, result: CapacityReport) -> None:
    from gameday.report.capacity import render_capacity_html

    write_atomic(cap_dir / "capacity.json", result.to_json())
    write_atomic(cap_dir / "capacity.html", render_capacity_html(result))
