"""How one Chaos Toolkit experiment ended: `experiment.json` in the run directory
(`experiment-<name>.json` per experiment of a suite). The sidecar writes it from the
journal; the report reads it back into `Summary.outcomes`.

    outcome = ExperimentOutcome.model_validate_json(path.read_text())
    outcome.verdict                  # "pass" / "fail" / "error"
    outcome.aborted_by_safeguard     # a stop condition ended the method early
    outcome.safeguard                # ... and which probe it was
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ExperimentOutcome", "RollbackOutcome", "SteadyStateWait"]


class RollbackOutcome(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    status: str = Field(description="the journal's status of the rollback action")


class SteadyStateWait(BaseModel):
    """In a suite: the wait for the steady state before the experiment started."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    waited_s: float | None = None
    held: bool | None = None
    timeout_s: float | None = None
    started_s: float | None = None


class ExperimentOutcome(BaseModel):
    # The run directory is read by newer and older harnesses: fields it does not
    # know are ignored, not an error.
    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str
    title: str
    status: str = Field(
        description="the journal's status (completed, failed, aborted, interrupted), "
        "or 'not started' / 'no journal'"
    )
    steady_state_before: bool | None = None
    steady_state_after: bool | None = None
    deviated: bool = False
    interrupted: bool = Field(default=False, description="stopped by the operator (Ctrl-C)")
    safeguards: list[str] = Field(
        default_factory=list, description="the stop-condition probes the experiment declared"
    )
    aborted_by_safeguard: bool = Field(
        default=False,
        description="a stop condition fired: the method was cut short and the rollbacks ran",
    )
    safeguard: str | None = Field(default=None, description="the probe that fired, if one did")
    rollbacks: list[RollbackOutcome] = Field(default_factory=list)
    leftovers_before_reset: list[str] = Field(default_factory=list)
    error: str | None = None
    verdict: Literal["pass", "fail", "error"]
    # added by the suite sidecar once every experiment has finished
    span_s: list[float | None] | None = Field(
        default=None, description="[start, end] on the load's clock (end null: the last one)"
    )
    faults: list[str] = Field(default_factory=list, description="faults the method injected")
    steady_state_wait: SteadyStateWait | None = None
    steady_state_wait_after: SteadyStateWait | None = Field(
        default=None,
        description="the last experiment of a suite: the wait for the steady state after "
        "its recovery, before the load ended",
    )
