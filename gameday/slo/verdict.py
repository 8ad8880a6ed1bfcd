"""What a judgment produces: measured figures, one result per objective, and
the run's verdict. These models feed summary.json, junit.xml and the HTML.

    result = ObjectiveResult(name="overall p95 latency [steady]", ...)
    result.passed, result.margin
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Comparator = Literal["<=", ">="]
PhaseKind = Literal["steady", "fault", "recovered", "run"]


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"


class Figures(BaseModel):
    """Measured over one scope (overall or one endpoint) and one time range.
    Latencies come from the merged HdrHistogram of the range."""

    model_config = ConfigDict(frozen=True)

    count: int
    errors: int = Field(description="server-side failures: 5xx, connection, timeout")
    failures: int = Field(description="every failure, 4xx included")
    by_kind: dict[str, int] = Field(default_factory=dict)
    degraded: int = Field(
        default=0, description="successful answers served by a fallback (X-Degraded header)"
    )
    duration_s: float
    rps: float
    error_rate_pct: float
    achieved_ratio: float | None = Field(
        default=None, description="completed / scheduled requests (open model)"
    )
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    p99_9_ms: float
    max_ms: float

    def percentile_ms(self, name: str) -> float:
        value: float = getattr(self, f"{name}_ms")
        return value


class ObjectiveResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    scope: str = Field(description="overall, an endpoint, or experiment:<name>")
    phase: str = Field(description="steady, fault:<name>, recovered, run")
    metric: str
    comparator: Comparator
    target: float
    measured: float | None = Field(description="null when it could not be measured")
    unit: str
    passed: bool
    gating: bool = Field(description="false: shown for information, does not decide the verdict")
    margin: float | None = Field(
        default=None, description="room left (positive) or overshoot (negative), in `unit`"
    )
    note: str | None = None
    experiment: str | None = Field(
        default=None,
        description="the experiment whose objective this is (its fault window's, its stop "
        "condition, how it ended); null: the run's own",
    )


def judge(
    *,
    name: str,
    scope: str,
    phase: str,
    metric: str,
    comparator: Comparator,
    target: float,
    measured: float | None,
    unit: str,
    gating: bool = True,
    note: str | None = None,
    experiment: str | None = None,
) -> ObjectiveResult:
    if measured is None:
        passed, margin = False, None
    elif comparator == "<=":
        passed, margin = measured <= target, target - measured
    else:
        passed, margin = measured >= target, measured - target
    return ObjectiveResult(
        name=name,
        scope=scope,
        phase=phase,
        metric=metric,
        comparator=comparator,
        target=target,
        measured=measured,
        unit=unit,
        passed=passed,
        gating=gating,
        margin=None if margin is None else round(margin, 6),
        note=note,
        experiment=experiment,
    )


def decide(results: list[ObjectiveResult], problems: list[str]) -> Verdict:
    """ERROR when the data cannot be trusted, else FAIL when a gating objective
    failed, else PASS. An invalid run is never PASS."""
    if problems:
        return Verdict.ERROR
    if any(r.gating and not r.passed for r in results):
        return Verdict.FAIL
    return Verdict.PASS
