"""Judging a run: run data + SLO file -> `Summary`.

    summary = build_summary(load_run(run_dir), slo, slo_source="slo.yaml")

Overall and per-endpoint objectives are judged per phase. They decide the
verdict in the steady phase, after recovery, and over the whole run when the
run had no fault; inside a fault window they are shown for information (the
experiment's own `during` objectives, RTO, RPO and breaker checks judge it),
and availability is judged over the whole run against its error budget.
"""

from __future__ import annotations

from gameday.report.analysis import (
    Failover,
    FaultWindow,
    Phase,
    Recovery,
    fault_windows,
    inferred_windows,
    measure_failover,
    measure_recovery,
    phases,
    signals_problems,
    timeline,
    verify_breaker,
)
from gameday.report.detection import alert_detections, alerts_problems, alerts_watched
from gameday.report.figures import measure, ok_by_second, run_end_s, second_range
from gameday.report.probe_checks import probe_checks
from gameday.report.resilience import owner_of, score_experiments
from gameday.report.restore_drill import RestoreDrill, measure_restore_drill
from gameday.report.rundata import ALL, RunData
from gameday.report.summary import (
    ErrorBudget,
    ExperimentSummary,
    PhaseFigures,
    RunFacts,
    Summary,
)
from gameday.rundir import (
    BackupTaken,
    DataRestored,
    Event,
    ExperimentOutcome,
    FaultInjected,
    ReplicaPromoted,
    RunDir,
)
from gameday.slo.evaluate import (
    judge_detection,
    judge_experiment,
    judge_fault_window,
    judge_objectives,
)
from gameday.slo.kinds import ExperimentFigures
from gameday.slo.model import SloFile
from gameday.slo.verdict import Figures, ObjectiveResult, decide, judge


def build_summary(run: RunData, slo: SloFile, *, slo_source: str) -> Summary:
    """Every verdict of the run in one place: the SLO file's objectives per phase, each
    fault window's own, each experiment's stop condition and how it ended, and lost
    writes; an experiment in error makes the run's data an error too."""
    end_s = run_end_s(run)
    events = run.events
    windows = run_windows(run, end_s=end_s)
    recoveries = _recoveries(run, slo, windows, end_s=end_s)
    recovered_at = recoveries[-1].recovered_at_s if recoveries else None
    run_phases = phases(windows, end_s=end_s, recovered_at_s=recovered_at)
    _fold_histograms(run, run_phases)
    phase_figures = [_phase_figures(run, phase) for phase in run_phases]
    whole = next(p for p in phase_figures if p.kind == "run")
    problems = list(run.problems) + _unknown_endpoints(run, slo) + signals_problems(events)
    problems += alerts_problems(events) + _unwatched_alerts(slo, windows, events)
    results = _phase_objectives(slo, phase_figures, judge_run=not windows)
    budget = _error_budget(slo, whole.overall, phase_figures)
    results.append(_availability(slo, budget))
    experiments = []
    next_starts: list[float | None] = [w.injected_s for w in windows[1:]]
    next_starts += [None] * (len(windows) - len(next_starts))
    for window, recovery, until_s in zip(windows, recoveries, next_starts, strict=True):
        summary, checks = _judge_window(run, slo, window, recovery, events, phase_figures)
        summary, detection = _detection(slo, window, events, summary, until_s=until_s)
        checks += detection
        experiments.append(_with_phase_figures(summary, window, phase_figures, budget))
        owner = window.owner or owner_of(window.name, window.injected_s, run.outcomes)
        results += [check.model_copy(update={"experiment": owner}) for check in checks]
        if checks and run.reconciliation is None and _needs_reconciliation(slo, window):
            problems.append(
                f"reconciliation.json is missing: RPO and lost writes of {window.name} "
                "cannot be judged"
            )
    results += _run_objectives(run)
    problems += [f"experiment {o.name}: {o.error}" for o in run.outcomes if o.verdict == "error"]
    return Summary(
        run_id=run.run_id,
        verdict=decide(results, problems),
        reasons=problems,
        slo_source=slo_source,
        run=_facts(run),
        objectives=results,
        overall=whole.overall,
        endpoints=whole.endpoints,
        phases=phase_figures,
        experiments=experiments,
        outcomes=run.outcomes,
        error_budget=budget,
        reconciliation=run.reconciliation,
        resilience=score_experiments(results, run.outcomes) if run.outcomes else None,
    )


def run_windows(run: RunData, *, end_s: float) -> list[FaultWindow]:
    """The run's fault windows: those its providers recorded on the timeline, and one
    inferred from the journal for each experiment whose method recorded none."""
    recorded = fault_windows(run.events, end_s=end_s)
    inferred = inferred_windows(run.outcomes, start_epoch=_start_epoch(run))
    return sorted(recorded + inferred, key=lambda w: w.injected_s)


def _start_epoch(run: RunData) -> float | None:
    """When the load started: live.json's, else from any event on the load's clock."""
    start = RunDir(run.path).load_start_epoch()
    if start is None:
        start = next((e.epoch - e.t_s for e in run.events if e.t_s is not None), None)
    return start


def _recoveries(
    run: RunData, slo: SloFile, windows: list[FaultWindow], *, end_s: int
) -> list[Recovery]:
    """Each fault window's recovery, from the seconds that met the overall SLOs."""
    ok = ok_by_second(
        run,
        end_s=end_s,
        latency_ms=slo.overall.latency.thresholds_ms(),
        error_rate_pct=slo.overall.error_rate_pct,
    )
    return [
        measure_recovery(
            ok,
            injected_s=w.injected_s,
            removed_s=w.removed_s,
            sustained_s=slo.sustained_window,
            end_s=end_s,
        )
        for w in windows
    ]


def _unknown_endpoints(run: RunData, slo: SloFile) -> list[str]:
    return [
        f"the SLO file names endpoint {endpoint!r}, which the run never called"
        for endpoint in slo.endpoints
        if endpoint not in run.histograms
    ]


def _phase_objectives(
    slo: SloFile, phase_figures: list[PhaseFigures], *, judge_run: bool
) -> list[ObjectiveResult]:
    """The overall and per-endpoint objectives in every phase; they decide in the steady
    and recovered phases, and over the whole run when it had no fault (`judge_run`)."""
    results: list[ObjectiveResult] = []
    for phase in phase_figures:
        gating = phase.kind in ("steady", "recovered") or (phase.kind == "run" and judge_run)
        results += judge_objectives(
            slo.overall, phase.overall, scope="overall", phase=phase.name, gating=gating
        )
        for endpoint, objectives in slo.endpoints.items():
            figures = phase.endpoints.get(endpoint)
            if figures is not None:
                results += judge_objectives(
                    objectives, figures, scope=endpoint, phase=phase.name, gating=gating
                )
    return results


def _availability(slo: SloFile, budget: ErrorBudget) -> ObjectiveResult:
    return judge(
        name="availability [run]",
        scope="overall",
        phase="run",
        metric="availability_pct",
        comparator=">=",
        target=slo.availability_pct,
        measured=budget.availability_pct,
        unit="%",
    )


def _judge_window(
    run: RunData,
    slo: SloFile,
    window: FaultWindow,
    recovery: Recovery,
    events: list[Event],
    phase_figures: list[PhaseFigures],
) -> tuple[ExperimentSummary, list[ObjectiveResult]]:
    """A fault window's own objectives: RTO, RPO, breaker, and its `during` ones."""
    summary, checks = _judge_experiment(run, slo, window, recovery, events)
    phase = next(p for p in phase_figures if p.name == f"fault:{window.name}")
    checks += judge_fault_window(
        slo.for_experiment(window.name),
        phase.overall,
        phase.endpoints,
        name=window.name,
        phase=phase.name,
    )
    return summary, checks


def _detection(
    slo: SloFile,
    window: FaultWindow,
    events: list[Event],
    summary: ExperimentSummary,
    *,
    until_s: float | None,
) -> tuple[ExperimentSummary, list[ObjectiveResult]]:
    """The alerts seen firing after the fault, and its `detect_within` objectives."""
    seen = alert_detections(events, window, until_s=until_s)
    checks = judge_detection(
        slo.for_experiment(window.name),
        [d.seen() for d in seen],
        name=window.name,
        phase=f"fault:{window.name}",
    )
    watched = alerts_watched(events)
    return summary.model_copy(update={"alerts": seen, "alerts_watched": watched}), checks


def _unwatched_alerts(slo: SloFile, windows: list[FaultWindow], events: list[Event]) -> list[str]:
    """`detect_within` judged on a run whose alerts nobody watched would fail for want of
    data: the data is incomplete instead (ERROR)."""
    wanted = [w.name for w in windows if slo.for_experiment(w.name).detect_within]
    if not wanted or alerts_watched(events):
        return []
    return [
        f"detect_within is set for {', '.join(wanted)}, but no alerts were watched in this "
        "run (the target profile has no alerts.prometheus_url, or Prometheus never answered)"
    ]


def _with_phase_figures(
    summary: ExperimentSummary,
    window: FaultWindow,
    phase_figures: list[PhaseFigures],
    budget: ErrorBudget,
) -> ExperimentSummary:
    phase = next(p for p in phase_figures if p.name == f"fault:{window.name}")
    return summary.model_copy(
        update={
            "burn_rate": budget.burn_rates.get(phase.name),
            "degraded_answers": phase.overall.degraded,
            "p95_rise_ms": _p95_rise_ms(phase, phase_figures),
        }
    )


def _run_objectives(run: RunData) -> list[ObjectiveResult]:
    """Judged over the whole run: each experiment's stop condition and how it ended,
    and, once reconciled, that no acknowledged write was lost."""
    results = [_stop_condition(o) for o in run.outcomes if o.safeguards or o.safeguard]
    results += [_ended_as_planned(o) for o in run.outcomes]
    if run.reconciliation is not None:
        results.append(
            judge(
                name="lost writes [run]",
                scope="overall",
                phase="run",
                metric="lost_writes",
                comparator="<=",
                target=0.0,
                measured=float(run.reconciliation.lost),
                unit="writes",
            )
        )
    return results


def _ended_as_planned(outcome: ExperimentOutcome) -> ObjectiveResult:
    """An experiment that deviated (its steady state did not hold after the method) or
    ended otherwise than completed is a finding (FAIL). A stop condition that fired is
    judged by its own objective; an experiment in error makes the data an error."""
    failed = outcome.verdict == "fail" and not outcome.aborted_by_safeguard
    why = outcome.error or ("the steady state did not hold after the method")
    return judge(
        name=f"{outcome.name} ended as planned",
        scope=f"experiment:{outcome.name}",
        phase="run",
        metric="experiment_failed",
        comparator="<=",
        target=0.0,
        measured=1.0 if failed else 0.0,
        unit="failures",
        note=why if failed else None,
        experiment=outcome.name,
    )


def _stop_condition(outcome: ExperimentOutcome) -> ObjectiveResult:
    """An experiment's stop condition (its safeguard) must not fire: when it does, the
    system went past the harm the experiment declared tolerable. That is a finding
    (FAIL), although the rest of the method never ran."""
    return judge(
        name=f"{outcome.name} stop condition",
        scope=f"experiment:{outcome.name}",
        phase="run",
        metric="safeguard_tripped",
        comparator="<=",
        target=0.0,
        measured=1.0 if outcome.aborted_by_safeguard else 0.0,
        unit="trips",
        note=f"aborted by safeguard: {outcome.safeguard}" if outcome.aborted_by_safeguard else None,
        experiment=outcome.name,
    )


def _p95_rise_ms(window: PhaseFigures, phase_figures: list[PhaseFigures]) -> float | None:
    """The fault window's p95 over the steady phase's (before any fault)."""
    steady = next((p for p in phase_figures if p.kind == "steady"), None)
    if steady is None or not steady.overall.count or not window.overall.count:
        return None
    return round(window.overall.p95_ms - steady.overall.p95_ms, 3)


def _fold_histograms(run: RunData, run_phases: list[Phase]) -> None:
    """Read each histogram file once, cut at every phase's ends (a streamed run's
    histograms are never all in memory; see hlog.HistogramFile)."""
    cuts = [cut for p in run_phases for cut in second_range(p.start_s, p.end_s)]
    for series in run.histograms.values():
        series.prefetch(cuts)


def _phase_figures(run: RunData, phase: Phase) -> PhaseFigures:
    return PhaseFigures(
        name=phase.name,
        kind=phase.kind,
        start_s=phase.start_s,
        end_s=phase.end_s,
        overall=measure(run, ALL, phase.start_s, phase.end_s),
        endpoints={ep: measure(run, ep, phase.start_s, phase.end_s) for ep in run.endpoints},
    )


def _error_budget(slo: SloFile, whole: Figures, phases_: list[PhaseFigures]) -> ErrorBudget:
    fraction = slo.error_budget_fraction
    allowed = fraction * whole.count
    return ErrorBudget(
        availability_target_pct=slo.availability_pct,
        availability_pct=(
            round(100.0 * (1 - whole.errors / whole.count), 6) if whole.count else None
        ),
        budget_fraction=round(fraction, 9),
        allowed_errors=round(allowed, 3),
        errors=whole.errors,
        consumed_pct=round(100.0 * whole.errors / allowed, 3) if allowed else None,
        burn_rates={
            p.name: round(p.overall.error_rate_pct / 100.0 / fraction, 3)
            for p in phases_
            if p.overall.count
        },
    )


def _needs_reconciliation(slo: SloFile, window: FaultWindow) -> bool:
    wanted = slo.for_experiment(window.name)
    return wanted.rpo is not None or wanted.max_lost_writes is not None


def _judge_experiment(
    run: RunData,
    slo: SloFile,
    window: FaultWindow,
    recovery: Recovery,
    events: list[Event],
) -> tuple[ExperimentSummary, list[ObjectiveResult]]:
    """The fault window's RTO, RPO, lost writes and breaker, judged by the objective
    kinds' table (gameday.slo.kinds); what reconciliation.json or the SLO file leave
    out is not measured, so not judged."""
    wanted = slo.for_experiment(window.name)
    rec = run.reconciliation
    breaker = None
    if wanted.breaker is not None:
        breaker = verify_breaker(
            events,
            dependency=wanted.breaker.dependency,
            window=window,
            open_within_s=wanted.breaker.open_within,
            close_within_s=wanted.breaker.close_within,
        )
    measured: dict[str, float | None] = {"rto_s": recovery.rto_s}
    if rec is not None:
        measured |= {"rpo_s": rec.rpo_s, "lost_writes": rec.lost}
    drill = _restore_drill(run, slo, window, events)
    if drill is not None:
        # A restore drill's RTO and RPO are its own (gameday.report.restore_drill): the
        # destruction to the first write, the age of the newest restored write.
        measured |= {"rto_s": drill.rto_s, "rpo_s": drill.rpo_s}
    if breaker is not None:
        measured |= {
            "breaker_opened_after_s": breaker.opened_after_s,
            "breaker_closed_after_s": breaker.closed_after_s,
        }
    checks = judge_experiment(
        wanted,
        ExperimentFigures.model_validate(measured),
        name=window.name,
        phase=f"fault:{window.name}",
        limits=slo.limits,
    )
    summary = ExperimentSummary(
        name=window.name,
        target=window.target,
        fault=window.fault,
        injected_s=window.injected_s,
        removed_s=window.removed_s,
        rto_s=recovery.rto_s,
        recovered_at_s=recovery.recovered_at_s,
        recovery_after_removal_s=recovery.recovery_after_removal_s,
        impact_after_s=recovery.impact_after_s,
        detected_after_s=breaker.opened_after_s if breaker else recovery.impact_after_s,
        breach_start_s=recovery.breach_start_s,
        breach_end_s=recovery.breach_end_s,
        breach_s=recovery.breach_s,
        rpo_s=rec.rpo_s if rec else None,
        lost_writes=rec.lost if rec else None,
        lost_ids=rec.lost_ids if rec else [],
        breaker=breaker,
        inferred=window.inferred,
        failover=_failover(run, window, events),
        probes=probe_checks(events, window),
        restore=drill,
        burn_rate=None,
    )
    return summary, checks


_WRITES = ("POST", "PUT", "PATCH", "DELETE")


def _failover(run: RunData, window: FaultWindow, events: list[Event]) -> Failover | None:
    """For a fault on PostgreSQL or Redis followed by a promoted replica: reads and
    writes of documents per second (5xx, connection and timeout failures; a 4xx is an
    answer). For Redis (redis-primary-kill) the promotion event's time is the harness's
    own measure of the failover (kill to the new primary taking a write)."""
    promoted = [
        t_s
        for e, t_s in timeline(events)
        if isinstance(e, ReplicaPromoted) and t_s >= window.injected_s
    ]
    frame = run.timeseries
    if window.target not in ("postgres", "redis") or not promoted or frame.empty:
        return None
    length = int(frame["second"].max()) + 1
    reads = [[0, 0] for _ in range(length)]
    writes = [[0, 0] for _ in range(length)]
    for row in frame[frame["endpoint"] != ALL].to_dict(orient="records"):
        method, _, path = str(row["endpoint"]).partition(" ")
        if not path.startswith("/v1/documents"):
            continue
        if method == "GET":
            series = reads
        elif method in _WRITES:
            series = writes
        else:
            continue
        second = int(row["second"])
        series[second][0] += int(row["requests"]) - int(row["failures"])
        series[second][1] += (
            int(row["fail_5xx"]) + int(row["fail_connection"]) + int(row["fail_timeout"])
        )
    return measure_failover(
        [(ok, bad) for ok, bad in reads],
        [(ok, bad) for ok, bad in writes],
        lost_at_s=window.injected_s,
        promoted_at_s=min(promoted),
    )


def _restore_drill(
    run: RunData, slo: SloFile, window: FaultWindow, events: list[Event]
) -> RestoreDrill | None:
    """For PostgreSQL's data destroyed and restored (a data_restored event after it)."""
    dated = timeline(events)
    restored = [
        (e, t_s) for e, t_s in dated if isinstance(e, DataRestored) and t_s >= window.injected_s
    ]
    if window.fault != "data-destroyed" or window.target != "postgres" or not restored:
        return None
    destroyed = next(
        (e for e, t_s in dated if isinstance(e, FaultInjected) and e.name == window.name), None
    )
    backups = [t_s for e, t_s in dated if isinstance(e, BackupTaken) and t_s < window.injected_s]
    frame = run.timeseries
    length = int(frame["second"].max()) + 1 if not frame.empty else 0
    writes = [[0, 0] for _ in range(length)]
    for row in frame[frame["endpoint"] != ALL].to_dict(orient="records") if length else []:
        method, _, path = str(row["endpoint"]).partition(" ")
        if path.startswith("/v1/documents") and method in _WRITES:
            second = writes[int(row["second"])]
            second[0] += int(row["requests"]) - int(row["failures"])
            second[1] += (
                int(row["fail_5xx"]) + int(row["fail_connection"]) + int(row["fail_timeout"])
            )
    rec = run.reconciliation
    return measure_restore_drill(
        [(ok, bad) for ok, bad in writes],
        RunDir(run.path).load_ledger(),
        rec.lost_ids if rec else [],
        destroyed_at_s=window.injected_s,
        restored_at_s=restored[0][1],
        design_rto_s=slo.limits.rto,
        design_rpo_s=slo.limits.rpo,
        backup=str(restored[0][0].attributes.get("backup")),
        backup_taken_s=backups[-1] if backups else None,
        last_archived_wal=(destroyed.attributes.get("last_archived_wal") if destroyed else None),
    )


def _facts(run: RunData) -> RunFacts:
    # run.json names the experiment (or suite) file; a run directory written before it
    # did still has its experiments' outcomes
    experiment = (run.record.experiment if run.record else None) or (
        ", ".join(o.name for o in run.outcomes) or None
    )
    record = run.record
    if record is None:
        return RunFacts(run_id=run.run_id, experiment=experiment)
    return RunFacts(
        run_id=record.run_id,
        scenario=record.scenario,
        shape=record.shape,
        model=record.model,
        target_rps=record.target_rps,
        users=record.users,
        duration_s=record.duration_s,
        workers=record.workers,
        seed=record.seed,
        started_at=record.started_at,
        ended_at=record.ended_at,
        git_sha=record.git_sha,
        versions=record.versions,
        host=record.host,
        experiment=experiment,
        status=record.status,
        generator_valid=record.generator.valid if record.generator else None,
        generator_reasons=record.generator.reasons if record.generator else [],
        max_worker_cpu_pct=record.generator.max_worker_cpu_pct if record.generator else None,
        master_cpu_pct=record.generator.master_cpu_pct if record.generator else None,
        ready_wait_s=record.generator.ready_wait_s if record.generator else None,
    )
