"""Objective kinds, declared once: each field of the SLO file that is an
objective, what it is measured from, how it is compared and in what unit.

    kind = EXPERIMENT_KINDS["rto"]
    kind.metric, kind.comparator, kind.unit    # "rto_s", "<=", "s"

`SCOPE_KINDS` are the fields of `Objectives` (overall, an endpoint, an
experiment's `during` and `endpoints`), measured on one phase's `Figures`;
`EXPERIMENT_KINDS` are the other fields of `ExperimentObjectives`, measured on
an `ExperimentFigures`. The SLO evaluation and the report judge by looping over
these tables, and docs/slo.md has one row per kind (a test keeps them equal):
a new objective kind is a model field, a row here and a row there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict

from gameday.slo.verdict import Comparator

# Where a figure comes from in the run directory: the merged HdrHistograms, the
# per-second rows of timeseries.csv, reconciliation.json, or events.jsonl.
Source = Literal["histograms", "timeseries", "reconciliation", "events"]


@dataclass(frozen=True)
class ObjectiveKind:
    field: str  # its place in its model, dotted: "latency.p95", "breaker.open_within"
    label: str  # how its objective is named: "p95 latency", "{dependency} breaker opens"
    metric: str  # the measured figure: an attribute of Figures or ExperimentFigures
    comparator: Comparator
    unit: str
    source: Source  # where the figure comes from
    limit: str | None = None  # the field of OuterLimits that caps the target, if any
    needs_requests: bool = False  # no completed request in the phase: not measured
    optional: bool = False  # a figure that does not apply (None) is not judged
    note: str | None = None  # shown with every result
    unmeasured: str | None = None  # shown when there was nothing to measure


_NO_REQUEST = "no request completed in this phase"


def _percentile(name: str) -> ObjectiveKind:
    return ObjectiveKind(
        f"latency.{name}", f"{name.replace('_', '.')} latency", f"{name}_ms", "<=", "ms",
        "histograms", needs_requests=True, unmeasured=_NO_REQUEST,
    )  # fmt: skip


SCOPE_KINDS: dict[str, ObjectiveKind] = {
    k.field: k
    for k in (
        *(_percentile(p) for p in ("p50", "p90", "p95", "p99", "p99_9")),
        ObjectiveKind(
            "error_rate_pct", "error rate", "error_rate_pct", "<=", "%", "timeseries",
            needs_requests=True, unmeasured=_NO_REQUEST,
        ),
        ObjectiveKind("min_throughput_rps", "throughput", "rps", ">=", "req/s", "timeseries"),
        ObjectiveKind(
            "min_achieved_ratio", "achieved/target rate", "achieved_ratio", ">=", "ratio",
            "timeseries", optional=True,  # a closed-model run has no schedule to compare with
        ),
    )
}  # fmt: skip

EXPERIMENT_KINDS: dict[str, ObjectiveKind] = {
    k.field: k
    for k in (
        ObjectiveKind(
            "rto", "RTO", "rto_s", "<=", "s", "timeseries", limit="rto",
            unmeasured="SLOs never held again before the end",
        ),
        ObjectiveKind("rpo", "RPO", "rpo_s", "<=", "s", "reconciliation", limit="rpo"),
        ObjectiveKind(
            "max_lost_writes", "lost writes", "lost_writes", "<=", "writes", "reconciliation"
        ),
        ObjectiveKind(
            "breaker.open_within", "{dependency} breaker opens", "breaker_opened_after_s", "<=",
            "s", "events", unmeasured="never opened",
        ),
        ObjectiveKind(
            "breaker.close_within", "{dependency} breaker closes", "breaker_closed_after_s",
            "<=", "s", "events", unmeasured="never closed again",
        ),
        ObjectiveKind(
            "min_degraded_answers", "degraded answers", "degraded_answers", ">=", "answers",
            "timeseries", note="successful answers with X-Degraded (a fallback served them)",
        ),
        # one objective per alert named (judge_detection): the label names the alert
        ObjectiveKind(
            "detect_within", "detects {alert}", "alert_detected_after_s", "<=", "s", "events",
            unmeasured="never fired",
        ),
    )
}  # fmt: skip

# Fields of ExperimentObjectives that are not kinds of their own: objectives of
# SCOPE_KINDS judged inside the fault window, and the breaker's parameter.
NESTED_SCOPES = ("during", "endpoints")
PARAMETERS = ("breaker.dependency",)


class ExperimentFigures(BaseModel):
    """What was measured for one fault window, one field per experiment kind's
    metric. A field left unset was not measured here, and its kind is not judged
    (RPO and lost writes without reconciliation.json); a field set to None was
    measured and found nothing (an RTO never reached), which fails.

        ExperimentFigures(rto_s=None, breaker_opened_after_s=1.2)
    """

    model_config = ConfigDict(frozen=True)

    rto_s: float | None = None
    rpo_s: float | None = None
    lost_writes: float | None = None
    breaker_opened_after_s: float | None = None
    breaker_closed_after_s: float | None = None
    degraded_answers: float | None = None
    alert_detected_after_s: float | None = None  # per alert: judge_detection
