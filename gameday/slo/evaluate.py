"""Judging measured figures against the SLO file's objectives.

results = judge_objectives(slo.overall, figures, scope="overall", phase="steady")
"""

from __future__ import annotations

from gameday.slo.model import ExperimentObjectives, Objectives
from gameday.slo.verdict import Comparator, Figures, ObjectiveResult, judge


def judge_objectives(
    objectives: Objectives,
    figures: Figures,
    *,
    scope: str,
    phase: str,
    gating: bool = True,
    subject: str = "",
) -> list[ObjectiveResult]:
    """`subject` narrows the name within the scope (an endpoint of an experiment)."""
    results: list[ObjectiveResult] = []
    prefix = f"{scope} {subject}" if subject else scope

    def add(
        what: str,
        metric: str,
        comparator: Comparator,
        target: float,
        measured: float | None,
        unit: str,
        note: str | None = None,
    ) -> None:
        results.append(
            judge(
                name=f"{prefix} {what} [{phase}]",
                scope=scope,
                phase=phase,
                metric=metric,
                comparator=comparator,
                target=target,
                measured=measured,
                unit=unit,
                gating=gating,
                note=note,
            )
        )

    empty = figures.count == 0
    no_request = "no request completed in this phase" if empty else None
    for name, threshold_ms in objectives.latency.thresholds_ms().items():
        measured = None if empty else figures.percentile_ms(name)
        label = name.replace("_", ".")
        add(f"{label} latency", f"{name}_ms", "<=", threshold_ms, measured, "ms", no_request)
    if objectives.error_rate_pct is not None:
        measured = None if empty else figures.error_rate_pct
        add(
            "error rate",
            "error_rate_pct",
            "<=",
            objectives.error_rate_pct,
            measured,
            "%",
            no_request,
        )
    if objectives.min_throughput_rps is not None:
        add("throughput", "rps", ">=", objectives.min_throughput_rps, figures.rps, "req/s")
    if objectives.min_achieved_ratio is not None and figures.achieved_ratio is not None:
        # a closed-model run has no schedule to compare against: nothing to judge
        add(
            "achieved/target rate",
            "achieved_ratio",
            ">=",
            objectives.min_achieved_ratio,
            figures.achieved_ratio,
            "ratio",
        )
    return results


def judge_fault_window(
    wanted: ExperimentObjectives,
    overall: Figures,
    endpoints: dict[str, Figures],
    *,
    name: str,
    phase: str,
) -> list[ObjectiveResult]:
    """An experiment's objectives measured inside its fault window: `during` (all
    endpoints together), `endpoints` (each on its own) and `min_degraded_answers`.
    An endpoint the load never called in the window is shown, not judged: the
    experiment did not exercise that part of its claim."""
    scope = f"experiment:{name}"
    results: list[ObjectiveResult] = []
    if wanted.during is not None:
        results += judge_objectives(wanted.during, overall, scope=scope, phase=phase)
    for endpoint, objectives in wanted.endpoints.items():
        figures = endpoints.get(endpoint)
        if figures is None or figures.count == 0:
            results.append(
                judge(
                    name=f"{scope} {endpoint} [{phase}]",
                    scope=scope,
                    phase=phase,
                    metric="count",
                    comparator=">=",
                    target=1,
                    measured=0,
                    unit="requests",
                    gating=False,
                    note="the load sent no such request in the fault window: not judged",
                )
            )
            continue
        results += judge_objectives(objectives, figures, scope=scope, phase=phase, subject=endpoint)
    if wanted.min_degraded_answers is not None:
        results.append(
            judge(
                name=f"{name} degraded answers",
                scope=scope,
                phase=phase,
                metric="degraded_answers",
                comparator=">=",
                target=float(wanted.min_degraded_answers),
                measured=float(overall.degraded),
                unit="answers",
                note="successful answers with X-Degraded (a fallback served them)",
            )
        )
    return results
