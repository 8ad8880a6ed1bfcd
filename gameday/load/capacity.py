"""Finding capacity: step an open-model rate up until an objective breaks.

The search is a pure function of a `measure(rate_rps)` callback, so it is
tested on a fake judge and driven by real short runs in `gameday capacity`:

    search = find_capacity(measure, start_rps=10, max_rps=800)
    search.capacity_rps       # highest rate that met every objective (or None)
    search.stopped_because    # objective_broke, max_rate_met, generator_saturated, ...

It doubles the rate from `start_rps` (clamped to `max_rps`) while every step
passes, then bisects between the last passing and the first failing rate
until the gap is at most `resolution_pct` of the passing rate. A step whose
generator was the bottleneck (run.json `generator.valid` false) says nothing
about the service: the search stops there and the capacity found so far is a
lower bound.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

StopReason = Literal[
    "objective_broke",  # bisected down to the resolution between a pass and a fail
    "max_rate_met",  # --max-rate passed: capacity is at least that
    "start_rate_failed",  # not even --start-rate met the objectives
    "generator_saturated",  # the generator, not the service, was the bottleneck
    "max_steps",  # out of steps before the resolution was reached
]
StepPhase = Literal["climb", "bisect"]


class Outcome(Protocol):
    @property
    def passed(self) -> bool: ...

    @property
    def generator_valid(self) -> bool: ...


OutcomeT = TypeVar("OutcomeT", bound=Outcome)


@dataclass
class Search(Generic[OutcomeT]):
    steps: list[tuple[float, StepPhase, OutcomeT]] = field(default_factory=list)
    capacity_rps: float | None = None
    first_failing_rps: float | None = None
    stopped_because: StopReason = "max_steps"

    @property
    def lower_bound(self) -> bool:
        """True when no step failed: the service may hold more than `capacity_rps`."""
        return self.capacity_rps is not None and self.first_failing_rps is None


def find_capacity(
    measure: Callable[[float], OutcomeT],
    *,
    start_rps: float,
    max_rps: float,
    resolution_pct: float = 10.0,
    max_steps: int = 12,
) -> Search[OutcomeT]:
    """Run `measure` at rising rates; see the module docstring."""
    if not 0 < start_rps <= max_rps:
        raise ValueError(f"need 0 < start_rps <= max_rps, not {start_rps} and {max_rps}")
    if resolution_pct <= 0 or max_steps < 1:
        raise ValueError("resolution_pct must be positive and max_steps at least 1")
    search: Search[OutcomeT] = Search()

    def step(rate: float, phase: StepPhase) -> OutcomeT | None:
        outcome = measure(rate)
        search.steps.append((rate, phase, outcome))
        if not outcome.generator_valid:
            search.stopped_because = "generator_saturated"
            return None
        return outcome

    rate = start_rps
    while True:
        if len(search.steps) >= max_steps:
            return search
        outcome = step(rate, "climb")
        if outcome is None:
            return search
        if not outcome.passed:
            search.first_failing_rps = rate
            break
        search.capacity_rps = rate
        if rate >= max_rps:
            search.stopped_because = "max_rate_met"
            return search
        rate = min(rate * 2, max_rps)
    if search.capacity_rps is None:
        search.stopped_because = "start_rate_failed"
        return search
    good, bad = search.capacity_rps, rate
    while bad - good > good * resolution_pct / 100.0:
        mid = round((good + bad) / 2, 1)
        if mid in (good, bad):
            break
        if len(search.steps) >= max_steps:
            return search
        outcome = step(mid, "bisect")
        if outcome is None:
            return search
        if outcome.passed:
            good = search.capacity_rps = mid
        else:
            bad = search.first_failing_rps = mid
    search.stopped_because = "objective_broke"
    return search


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class StepRecord(_Model):
    """One step: a short open-model run in its own run directory."""

    index: int
    phase: StepPhase
    rate_rps: float = Field(description="scheduled arrival rate")
    run_dir: str = Field(description="relative to the capacity directory")
    verdict: str = Field(description="pass, fail or error (the step's summary.json)")
    passed: bool
    generator_valid: bool
    generator_reasons: list[str] = Field(default_factory=list)
    achieved_rps: float
    count: int
    error_rate_pct: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    violated: list[str] = Field(default_factory=list, description="failed gating objectives")
    reasons: list[str] = Field(default_factory=list, description="why the data is incomplete")


class CapacityReport(_Model):
    """capacity.json: the search and every step, the knee first."""

    scenario: str
    target_url: str
    slo_source: str
    start_rps: float
    max_rps: float
    step_duration_s: float
    resolution_pct: float
    capacity_rps: float | None = Field(description="highest rate that met every objective")
    capacity_achieved_rps: float | None = Field(description="what that step completed per second")
    first_failing_rps: float | None
    lower_bound: bool = Field(description="true: the service may hold more than capacity_rps")
    stopped_because: StopReason
    steps: list[StepRecord]

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"

    def knee(self) -> StepRecord | None:
        return next((s for s in self.steps if s.passed and s.rate_rps == self.capacity_rps), None)
