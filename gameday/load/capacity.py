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

One short step near the knee is a noisy sample (p95 448 ms at 175 rps and 249 ms
at 187.5 rps in one search here), so with `repeats` > 1 the two rates that decide
the answer, the capacity and the first failing rate, are each run `repeats` times
and judged by majority: a rate holds when more than half of its runs passed. A
capacity that does not hold moves down to the next rate below that does, and a
failing rate that holds moves the search up again; both are then confirmed in
turn. `confidence(passes, runs)` says how sure a majority of that many runs is.
"""

from __future__ import annotations

import math
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
StepPhase = Literal["climb", "bisect", "confirm"]


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

    def runs(self, rate: float) -> list[OutcomeT]:
        return [outcome for r, _, outcome in self.steps if r == rate]

    def holds(self, rate: float) -> bool:
        """More than half of the rate's runs passed (a tie does not hold)."""
        runs = self.runs(rate)
        return 2 * sum(o.passed for o in runs) > len(runs)


def confidence(agreeing: int, runs: int) -> float:
    """How sure `agreeing` of `runs` runs make the majority verdict: one minus the chance
    of at least that many agreeing runs if each were a coin flip (a rate right at the
    knee). One run: 0.5; 2 of 2: 0.75; 3 of 3: 0.875; 2 of 3: 0.5."""
    at_least = sum(math.comb(runs, k) for k in range(agreeing, runs + 1)) / 2.0**runs
    return 1.0 - at_least


class _OutOfSteps(Exception):
    """No step left, or the generator saturated: the search ends as it stands."""


def find_capacity(
    measure: Callable[[float], OutcomeT],
    *,
    start_rps: float,
    max_rps: float,
    resolution_pct: float = 10.0,
    max_steps: int = 12,
    repeats: int = 1,
) -> Search[OutcomeT]:
    """Run `measure` at rising rates; see the module docstring."""
    if not 0 < start_rps <= max_rps:
        raise ValueError(f"need 0 < start_rps <= max_rps, not {start_rps} and {max_rps}")
    if resolution_pct <= 0 or max_steps < 1 or repeats < 1:
        raise ValueError("resolution_pct must be positive, max_steps and repeats at least 1")
    search: Search[OutcomeT] = Search()

    def step(rate: float, phase: StepPhase) -> OutcomeT:
        if len(search.steps) >= max_steps:
            raise _OutOfSteps
        outcome = measure(rate)
        search.steps.append((rate, phase, outcome))
        if not outcome.generator_valid:
            search.stopped_because = "generator_saturated"
            raise _OutOfSteps
        return outcome

    def confirmed(rate: float) -> bool:
        while len(search.runs(rate)) < repeats:
            step(rate, "confirm")
        return search.holds(rate)

    good: float | None = None  # the highest rate that holds so far
    bad: float | None = None  # the lowest rate above it that does not
    try:
        while True:
            if bad is None:
                rate = start_rps if good is None else min(good * 2, max_rps)
                while step(rate, "climb").passed:
                    good = search.capacity_rps = rate
                    if rate >= max_rps:
                        break
                    rate = min(rate * 2, max_rps)
                else:
                    bad = search.first_failing_rps = rate
            if good is None:
                search.stopped_because = "start_rate_failed"
                return search
            while bad is not None and bad - good > good * resolution_pct / 100.0:
                mid = round((good + bad) / 2, 1)
                if mid in (good, bad):
                    break
                if step(mid, "bisect").passed:
                    good = search.capacity_rps = mid
                else:
                    bad = search.first_failing_rps = mid
            if not confirmed(good):  # the capacity was a lucky run: the next one below
                bad = search.first_failing_rps = good
                good = search.capacity_rps = max(
                    (r for r, _, _ in search.steps if r < bad and search.holds(r)), default=None
                )
                continue
            if bad is None:
                search.stopped_because = "max_rate_met"
                return search
            if confirmed(bad):  # the first failure was an unlucky run: search above it
                good = search.capacity_rps = bad
                above = [r for r, _, _ in search.steps if r > good and not search.holds(r)]
                bad = search.first_failing_rps = min(above, default=None)
                if bad is None and good >= max_rps:
                    search.stopped_because = "max_rate_met"
                    return search
                continue
            search.stopped_because = "objective_broke"
            return search
    except _OutOfSteps:
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


class RateVerdict(_Model):
    """Every run of one scheduled rate, and the majority's verdict."""

    rate_rps: float
    runs: int
    passes: int
    holds: bool = Field(description="more than half of the runs passed")
    confidence: float = Field(description="how sure the majority is (see `confidence`)")
    p95_min_ms: float
    p95_max_ms: float


def rate_verdicts(steps: list[StepRecord]) -> list[RateVerdict]:
    """One verdict per scheduled rate, lowest first (steps whose generator saturated
    say nothing about the service and are left out)."""
    verdicts = []
    for rate in sorted({s.rate_rps for s in steps if s.generator_valid}):
        runs = [s for s in steps if s.rate_rps == rate and s.generator_valid]
        passes = sum(s.passed for s in runs)
        holds = 2 * passes > len(runs)
        verdicts.append(
            RateVerdict(
                rate_rps=rate,
                runs=len(runs),
                passes=passes,
                holds=holds,
                confidence=confidence(passes if holds else len(runs) - passes, len(runs)),
                p95_min_ms=min(s.p95_ms for s in runs),
                p95_max_ms=max(s.p95_ms for s in runs),
            )
        )
    return verdicts


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
    repeats: int = Field(1, description="runs of each rate that decides the answer")
    rates: list[RateVerdict] = Field(default_factory=list, description="each rate's runs")
    capacity_confidence: float | None = Field(
        None, description="how sure capacity_rps holds (its runs' majority, see confidence)"
    )
    failing_confidence: float | None = Field(
        None, description="how sure first_failing_rps does not hold"
    )
    monotonic: bool = Field(
        True, description="false: a rate held above one that did not (noise above the step)"
    )
    steps: list[StepRecord]

    def to_json(self) -> str:
        return self.model_dump_json(indent=2) + "\n"

    def knee(self) -> StepRecord | None:
        return next((s for s in self.steps if s.passed and s.rate_rps == self.capacity_rps), None)
