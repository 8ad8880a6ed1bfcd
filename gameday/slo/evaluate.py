"""Judging measured figures against the SLO file's objectives, one result per
objective kind that the SLO file sets (the tables of gameday.slo.kinds).

results = judge_objectives(slo.overall, figures, scope="overall", phase="steady")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel

from gameday.slo.kinds import (
    EXPERIMENT_KINDS,
    SCOPE_KINDS,
    ExperimentFigures,
    ObjectiveKind,
)
from gameday.slo.model import ExperimentObjectives, Objectives, OuterLimits
from gameday.slo.verdict import Figures, ObjectiveResult, judge


def _target(model: BaseModel | None, field: str) -> float | None:
    """The value at a dotted field (`breaker.open_within`); None when unset."""
    value: object = model
    for part in field.split("."):
        value = getattr(value, part, None)
    return float(value) if isinstance(value, int | float) else None


def _judge(
    kind: ObjectiveKind,
    *,
    name: str,
    scope: str,
    phase: str,
    target: float,
    measured: float | None,
    gating: bool = True,
) -> ObjectiveResult:
    return judge(
        name=name,
        scope=scope,
        phase=phase,
        metric=kind.metric,
        comparator=kind.comparator,
        target=target,
        measured=measured,
        unit=kind.unit,
        gating=gating,
        note=kind.note or (kind.unmeasured if measured is None else None),
    )


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
    prefix = f"{scope} {subject}" if subject else scope
    results: list[ObjectiveResult] = []
    for kind in SCOPE_KINDS.values():
        target = _target(objectives, kind.field)
        unmeasured = kind.needs_requests and figures.count == 0
        measured: float | None = None if unmeasured else getattr(figures, kind.metric)
        if target is None or (kind.optional and measured is None):
            continue
        results.append(
            _judge(
                kind,
                name=f"{prefix} {kind.label} [{phase}]",
                scope=scope,
                phase=phase,
                target=target,
                measured=measured,
                gating=gating,
            )
        )
    return results


def judge_experiment(
    wanted: ExperimentObjectives,
    figures: ExperimentFigures,
    *,
    name: str,
    phase: str,
    limits: OuterLimits | None = None,
) -> list[ObjectiveResult]:
    """The experiment kinds the figures measured (the fields set in `figures`)
    and the SLO file sets, each against the tighter of its target and its outer
    limit."""
    context = {"dependency": wanted.breaker.dependency if wanted.breaker else ""}
    results: list[ObjectiveResult] = []
    for kind in EXPERIMENT_KINDS.values():
        limit = _target(limits, kind.limit) if kind.limit else None
        targets = [t for t in (_target(wanted, kind.field), limit) if t is not None]
        if not targets or kind.metric not in figures.model_fields_set:
            continue
        results.append(
            _judge(
                kind,
                name=f"{name} {kind.label.format(**context)}",
                scope=f"experiment:{name}",
                phase=phase,
                target=min(targets) if kind.comparator == "<=" else max(targets),
                measured=getattr(figures, kind.metric),
            )
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
    window = ExperimentFigures(degraded_answers=overall.degraded)
    return results + judge_experiment(wanted, window, name=name, phase=phase)


# An alert seen firing in a fault window: (name, labels, seconds after the fault started)
SeenAlert = tuple[str, Mapping[str, str], float]


def judge_detection(
    wanted: ExperimentObjectives,
    seen: Sequence[SeenAlert],
    *,
    name: str,
    phase: str,
) -> list[ObjectiveResult]:
    """One result per alert `detect_within` names: the first time an alert it selects
    was seen firing after the fault, against its bound; never seen is a violation."""
    kind = EXPERIMENT_KINDS["detect_within"]
    results: list[ObjectiveResult] = []
    for selector, within_s in zip(
        wanted.alert_selectors(), wanted.detect_within.values(), strict=True
    ):
        after = [s for alert, labels, s in seen if selector.matches(alert, labels)]
        results.append(
            _judge(
                kind,
                name=f"{name} {kind.label.format(alert=selector)}",
                scope=f"experiment:{name}",
                phase=phase,
                target=float(within_s),
                measured=min(after) if after else None,
            )
        )
    return results
