"""The SLO file: what a run must achieve, overall, per endpoint and per
experiment, and how much a candidate may regress against a baseline.

    slo = SloFile.model_validate({"overall": {"latency": {"p95": "500ms"}}})
    slo.overall.latency.p95          # 500.0 (milliseconds)
    slo.error_budget_fraction        # 0.0005 (99.95% availability)

Every object forbids unknown fields, so a typo such as `p59` is an error.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gameday.slo.alerts import AlertSelector
from gameday.slo.units import DurationS, LatencyMs

PERCENTILES: dict[str, float] = {
    "p50": 50.0,
    "p90": 90.0,
    "p95": 95.0,
    "p99": 99.0,
    "p99_9": 99.9,
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Latency(_Strict):
    """Upper bounds on latency percentiles, in milliseconds (`500ms`, `1.5s` or `500`)."""

    p50: LatencyMs | None = None
    p90: LatencyMs | None = None
    p95: LatencyMs | None = None
    p99: LatencyMs | None = None
    p99_9: LatencyMs | None = None

    def thresholds_ms(self) -> dict[str, float]:
        return {name: v for name in PERCENTILES if (v := getattr(self, name)) is not None}


class Objectives(_Strict):
    """Objectives for one scope (the whole service, one endpoint, one fault window).

    Error rate counts server-side failures (5xx, connection, timeout); 4xx
    answers are reported apart and do not count against it.
    """

    latency: Latency = Field(default_factory=Latency)
    error_rate_pct: float | None = Field(
        default=None, ge=0, le=100, description="most server-side failures, % of requests"
    )
    min_throughput_rps: float | None = Field(
        default=None, ge=0, description="least completed requests per second"
    )
    min_achieved_ratio: float | None = Field(
        default=None, gt=0, le=1, description="least completed/scheduled (open model)"
    )


class Breaker(_Strict):
    """The circuit breaker on `dependency` must open within `open_within` of the
    fault and close within `close_within` of its removal."""

    dependency: str
    open_within: DurationS | None = None
    close_within: DurationS | None = None


class ExperimentObjectives(_Strict):
    rto: DurationS | None = Field(
        default=None, description="fault start to SLOs holding again (sustained)"
    )
    rpo: DurationS | None = Field(default=None, description="most data loss, in time")
    max_lost_writes: int | None = Field(default=None, ge=0)
    breaker: Breaker | None = None
    during: Objectives | None = Field(
        default=None, description="objectives judged inside the fault window"
    )
    endpoints: dict[str, Objectives] = Field(
        default_factory=dict,
        description="objectives per endpoint (request name) judged inside the fault window",
    )
    min_degraded_answers: int | None = Field(
        default=None,
        ge=0,
        description="least answers served by a fallback (X-Degraded) inside the fault window",
    )
    detect_within: dict[str, DurationS] = Field(
        default_factory=dict,
        description="alert (a name, or a name with labels: "
        'BreakerOpen{dependency="opensearch"}) -> the most time from the fault to seeing it '
        "fire; one that never fires is a violated objective",
    )

    @field_validator("detect_within")
    @classmethod
    def _alert_selectors(cls, wanted: dict[str, float]) -> dict[str, float]:
        for selector in wanted:
            AlertSelector.parse(selector)  # ValueError names the expected form
        return wanted

    def alert_selectors(self) -> list[AlertSelector]:
        return [AlertSelector.parse(s) for s in self.detect_within]


class OuterLimits(_Strict):
    """Production-readiness limits that every experiment must meet."""

    rto: DurationS = 3600.0
    rpo: DurationS = 900.0


class LatencyGrowth(_Strict):
    """Most growth of a percentile, % of the baseline value."""

    p50: float | None = Field(default=None, ge=0)
    p95: float | None = Field(default=10.0, ge=0)
    p99: float | None = Field(default=None, ge=0)


class Regression(_Strict):
    """Tolerances for `gameday compare`: a difference is a regression when it
    exceeds the tolerance and its confidence interval excludes zero."""

    latency_growth_pct: LatencyGrowth = Field(default_factory=LatencyGrowth)
    error_rate_increase_pp: float | None = Field(
        default=0.1, ge=0, description="most growth of the error rate, percentage points"
    )
    confidence_pct: float = Field(default=95.0, gt=50, lt=100)


class SloFile(_Strict):
    version: Literal[1] = 1
    availability_pct: float = Field(
        default=99.95, gt=0, lt=100, description="share of requests served without a server error"
    )
    sustained_window: DurationS = Field(
        default=10.0, description="how long SLOs must hold again to count as recovered"
    )
    overall: Objectives = Field(default_factory=Objectives)
    endpoints: dict[str, Objectives] = Field(default_factory=dict)
    experiment_defaults: ExperimentObjectives = Field(default_factory=ExperimentObjectives)
    experiments: dict[str, ExperimentObjectives] = Field(
        default_factory=dict,
        description="by fault name (the fault_injected event's name); "
        "a field left out is taken from experiment_defaults",
    )
    limits: OuterLimits = Field(default_factory=OuterLimits)
    regression: Regression = Field(default_factory=Regression)

    @property
    def error_budget_fraction(self) -> float:
        return 1.0 - self.availability_pct / 100.0

    def detect_within_alerts(self) -> set[str]:
        """Every alert name a `detect_within` objective names (defaults and experiments)."""
        every = [self.experiment_defaults, *self.experiments.values()]
        return {selector.name for wanted in every for selector in wanted.alert_selectors()}

    def for_experiment(self, name: str) -> ExperimentObjectives:
        """The named entry, each field it leaves unset taken from `experiment_defaults`."""
        named = self.experiments.get(name)
        if named is None:
            return self.experiment_defaults
        inherited = {
            field: getattr(self.experiment_defaults, field)
            for field in ExperimentObjectives.model_fields
            if field not in named.model_fields_set
        }
        return named.model_copy(update=inherited)
