"""Judging measured figures against the SLO file's objectives.

results = judge_objectives(slo.overall, figures, scope="overall", phase="steady")
"""

from __future__ import annotations

from gameday.slo.model import Objectives
from gameday.slo.verdict import Comparator, Figures, ObjectiveResult, judge


def judge_objectives(
    objectives: Objectives,
    figures: Figures,
    *,
    scope: str,
    phase: str,
    gating: bool = True,
) -> list[ObjectiveResult]:
    results: list[ObjectiveResult] = []

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
                name=f"{scope} {what} [{phase}]",
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
