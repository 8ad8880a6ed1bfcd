"""One session: a `RunPlan` -> load (with its experiments on the same clock) ->
run directory -> reconciliation -> report. Prints nothing: what happens is told
to `on_progress`, which the command line renders.

    outcome = run_session(plan, on_progress=print_progress)
    outcome.summary.verdict     # decided by the report alone
    outcome.exit_code           # 0 pass, 1 fail, 2 error, 130 interrupted
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gameday.app.plan import RunPlan
from gameday.app.target import check_alerts, check_mix, check_ready, prepare_load
from gameday.chaos.reconcile_profile import ReconciliationFailed, reconcile_with_profile
from gameday.chaos.sidecar import SuiteSidecar
from gameday.errors import ConfigError
from gameday.load import engine
from gameday.load.config import LoadConfig
from gameday.report.summary import Summary
from gameday.rundir import ExperimentOutcome, RunDir, RunRecord
from gameday.settings import StackSettings
from gameday.slo.model import SloFile


@dataclass(frozen=True)
class LoadStarting:
    """The run directory exists; the load starts now (`headline`: the first line)."""

    run_dir: Path
    headline: str
    duration_s: float


@dataclass(frozen=True)
class LoadTick:
    live: engine.LiveStats


@dataclass(frozen=True)
class LoadEnded:
    record: RunRecord


@dataclass(frozen=True)
class Note:
    text: str
    warning: bool = False


Progress = LoadStarting | LoadTick | LoadEnded | Note
OnProgress = Callable[[Progress], None]


@dataclass(frozen=True)
class RunOutcome:
    run_dir: Path
    record: RunRecord
    summary: Summary

    @property
    def interrupted(self) -> bool:
        return self.record.status == "interrupted"

    @property
    def page(self) -> Path:
        return self.run_dir / "index.html"

    @property
    def exit_code(self) -> int:
        """The report's verdict (0 pass, 1 fail, 2 error); 130 when interrupted."""
        from gameday.report.verdict_lines import exit_code

        return 130 if self.interrupted else exit_code(self.summary)


def run_session(
    plan: RunPlan, *, on_progress: OnProgress = lambda _: None, stack: StackSettings | None = None
) -> RunOutcome:
    """Load, faults on the same clock, reconciliation, report; see the module docstring."""
    stack = stack or StackSettings()
    config = validate_plan(plan)
    check_ready(plan)
    check_mix(plan)
    plan, unwatched = check_alerts(plan)
    if unwatched is not None:
        on_progress(Note(unwatched, warning=True))
    run_dir = engine.new_run_dir(plan.out, plan.scenario, allow_existing=plan.reuse_run_dir)
    config = prepare_load(plan, config, run_dir)
    on_progress(LoadStarting(run_dir, plan.headline(run_dir), plan.duration_s))
    sidecar = _sidecar(plan, run_dir, stack)
    outcomes: list[ExperimentOutcome] = []
    try:
        record = engine.run_load(
            config,
            run_dir,
            on_tick=lambda live: on_progress(LoadTick(live)),
            stack=stack,
            sidecar=sidecar,
            facts_extra={"experiment": plan.experiment_source},
        )
    finally:
        outcomes = sidecar.finish() if sidecar is not None else []
    on_progress(LoadEnded(record))
    RunDir(run_dir).backfill_event_times()  # events from before Locust's first report
    _tell_how_the_load_ended(record, run_dir, on_progress)
    if outcomes and record.status != "interrupted" and plan.profile.ledger is not None:
        on_progress(Note(f"reconciling the write ledger with target {plan.profile.name} ..."))
        try:
            reconcile_with_profile(
                run_dir, plan.profile, grace_s=plan.rpo_grace_s, headers=config.headers
            )
        except ReconciliationFailed as exc:  # no reconciliation.json: the report says ERROR
            on_progress(Note(f"reconciliation failed: {exc}", warning=True))
    # The evidence is on disk; now the report judges all of it against the SLO file.
    shutil.copyfile(plan.slo_path, run_dir / "slo.yaml")
    on_progress(Note("building the report ..."))
    from gameday.report.write import write_report  # keeps pandas out of CLI start-up

    summary = write_report(run_dir, slo_path=run_dir / "slo.yaml")
    return RunOutcome(run_dir=run_dir, record=record, summary=summary)


def validate_plan(plan: RunPlan) -> LoadConfig:
    """The load the plan asks for, checked before anything starts (ConfigError)."""
    try:
        config = LoadConfig(
            scenario=plan.scenario,
            shape=plan.shape,
            target_rps=plan.rate_rps,
            users=plan.users,
            spawn_rate=plan.spawn_rate,
            duration_s=plan.duration_s,
            workers=plan.workers,
            ready_timeout_s=plan.ready_timeout_s,
            seed=plan.seed,
            target_url=plan.target_url,
        )
    except ValueError as exc:
        raise ConfigError(f"invalid run options: {exc}".splitlines()[0]) from exc
    engine.validate(config)
    return config


def _sidecar(plan: RunPlan, run_dir: Path, stack: StackSettings) -> SuiteSidecar | None:
    if plan.suite is None:
        return None
    return SuiteSidecar(
        plan.suite,
        run_dir,
        stack,
        {**slo_variables(plan.slo_file), **plan.overrides},
        service_url=plan.service_url,
        min_duration_s=plan.min_duration_s,
        profile=plan.profile,
    )


def _tell_how_the_load_ended(record: RunRecord, run_dir: Path, on_progress: OnProgress) -> None:
    generator = record.generator
    if generator is not None and not generator.valid:
        reasons = "; ".join(generator.reasons)
        on_progress(Note(f"generator was the bottleneck: {reasons}", warning=True))
    on_progress(Note(f"run {record.status}: {run_dir}"))
    if record.stopped_early:
        on_progress(Note(f"load stopped early: {record.stopped_early}", warning=True))


def slo_variables(slo_file: SloFile) -> dict[str, float]:
    """The SLO thresholds experiments read as configuration (`${p95_max_ms}`)."""
    return {
        "p95_max_ms": slo_file.overall.latency.p95 or 500.0,
        "error_rate_max": (slo_file.overall.error_rate_pct or 0.1) / 100.0,
        "window_s": slo_file.sustained_window,
    }
