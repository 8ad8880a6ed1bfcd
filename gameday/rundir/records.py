"""The run directory's JSON records (docs/run-data.md): one model each, used by
the writers (`gameday run`, the Locust master, the chaos sidecar, the
reconciliation) and by the report.

The run directory is read by newer and older harnesses: fields a model does not
know are ignored on reading, never an error.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

__all__ = [
    "Exemplar",
    "ExperimentOutcome",
    "GeneratorInfo",
    "GeneratorReport",
    "InferredWindow",
    "LedgerEntry",
    "Reconciliation",
    "RollbackOutcome",
    "RunRecord",
    "SteadyStateWait",
]


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore")


class GeneratorInfo(_Record):
    """`run.json`'s `generator`: whether the load generator, not the service, was the
    bottleneck (then the run is invalid), and the facts that say so."""

    valid: bool = True
    reasons: list[str] = Field(default_factory=list)
    # The highest CPU share of a load-sending process (percent of one core): its CPU
    # seconds over a span of at least 1 s of its wall clock, from the clock's start
    max_worker_cpu_pct: float | None = None
    master_cpu_pct: float | None = None  # the master's CPU over the load, mean, % of a core
    ready_wait_s: float | None = None  # from Locust's start to the clock's (workers ready)
    workers_never_connected: int = 0  # the load never started (Locust gave up on them)
    workers_not_ready: int = 0  # connected, on_start unfinished when the wait ended
    max_loop_lag_ms: float | None = None  # the worst timer lateness in a load-sending process
    workers_lost: int = 0
    late_starts: int = 0
    achieved_over_target: float | None = None
    worker_request_totals: dict[str, int] = Field(default_factory=dict)
    total_requests: int | None = None


class GeneratorReport(GeneratorInfo):
    """`generator.json`: what the Locust master wrote when the load ended; `run.json`'s
    `generator` is this without the two clock readings."""

    start_epoch: float
    stop_epoch: float | None = None

    def info(self) -> GeneratorInfo:
        return GeneratorInfo.model_validate(self.model_dump(exclude={"start_epoch", "stop_epoch"}))


class RunRecord(_Record):
    """`run.json`: what was run. Written with status "running" before the load starts,
    completed when it ends."""

    run_id: str
    scenario: str | None = None
    shape: str | None = None
    model: Literal["open", "closed"] | None = None
    target_rps: float | None = None
    users: int | None = None
    spawn_rate: float | None = None
    duration_s: float | None = None
    workers: int | None = None
    seed: int | None = None
    target_url: str | None = None
    via_proxy: bool | None = None
    started_at: str | None = None
    ended_at: str | None = None
    git_sha: str | None = None
    versions: dict[str, Any] = Field(default_factory=dict)
    host: dict[str, Any] = Field(default_factory=dict)
    slo_file: str | None = None
    experiment: str | None = None
    generator: GeneratorInfo | None = None
    status: str = "completed"  # running (while the load runs), completed, interrupted, failed
    error: str | None = None
    stopped_early: str | None = None  # why the load ended before its planned end


class Exemplar(_Record):
    """One line of `exemplars.jsonl`: one of the slowest requests of a second."""

    second: int
    endpoint: str
    latency_ms: float
    request_id: str | None = None
    method: str | None = None
    path: str | None = None
    status: int | None = None
    service_ms: float | None = None
    wall: str | None = None


class LedgerEntry(_Record):
    """One line of `ledger.jsonl`: a write the service acknowledged (2xx)."""

    op: str  # create, update, delete, bulk_create
    id: str
    tenant: str
    version: int
    acked_at: str
    t_s: float
    request_id: str | None = None


class UnconfirmedWrite(_Record):
    """One line of `unconfirmed.jsonl`: an update or delete sent that had no answer when the
    load stopped (its user was stopped mid-request). The service may or may not have applied
    it, so the reconciliation cannot judge that document."""

    op: str  # update, delete
    id: str
    tenant: str
    sent_at: str
    t_s: float
    request_id: str | None = None


class Reconciliation(_Record):
    """`reconciliation.json`: the write ledger reconciled against the stores after a
    chaos run (gameday/chaos/reconcile.py)."""

    checked_at: str | None = None
    acknowledged: int = 0
    documents: int = 0  # distinct documents the ledger wrote
    present: int = 0
    lost: int = 0
    lost_ids: list[str] = Field(default_factory=list)
    lost_in_postgres: int = 0
    lost_in_search: int = 0
    rpo_s: float = 0.0
    stale_versions: int = 0
    # Run directories written before the contract name it `not_yet_indexed_at_first_check`.
    # documents left out: a write to them was in flight when the load stopped
    unconfirmed_at_end: int = 0
    not_yet_indexed: int = Field(
        default=0,
        validation_alias=AliasChoices("not_yet_indexed", "not_yet_indexed_at_first_check"),
    )
    max_indexing_lag_s: float | None = None


class RollbackOutcome(_Record):
    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str
    status: str = Field(description="the journal's status of the rollback action")


class SteadyStateWait(_Record):
    """In a suite: the wait for the steady state before the experiment started."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    waited_s: float | None = None
    held: bool | None = None
    timeout_s: float | None = None
    started_s: float | None = None


class InferredWindow(_Record):
    """The fault window of an experiment whose method recorded no fault of its own (it
    used chaostoolkit-toxiproxy or the user's providers): from the end of the method's
    first action to the end of its last one, or, when the method failed, to the end of
    its first rollback (`until`). The report judges it like a recorded one and says it
    was inferred."""

    start_epoch: float = Field(description="the end of the method's first action")
    end_epoch: float | None = Field(
        description="the end of its last action (or of the first rollback); null: none"
    )
    until: Literal["last action", "first rollback"]


class ExperimentOutcome(_Record):
    """`experiment.json` (`experiment-<name>.json` per experiment of a suite): how one
    Chaos Toolkit experiment ended. The sidecar writes it from the journal; the report
    reads it back into `Summary.outcomes`.

        outcome = run_dir.load_outcomes()[0]
        outcome.verdict                  # "pass" / "fail" / "error"
        outcome.aborted_by_safeguard     # a stop condition ended the method early
        outcome.safeguard                # ... and which probe it was
    """

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
    inferred_window: InferredWindow | None = Field(
        default=None, description="its fault window, inferred from the journal's actions"
    )
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
