"""The run's one timeline, `events.jsonl`: one typed event per line.

Every event carries `epoch` (wall-clock seconds since 1970, when it happened),
`wall` (the same, ISO 8601 UTC) and `t_s` (seconds since the load started, on
the master's clock). A chaos process can record an event before the load's
start is known (before Locust's first report): its `t_s` stays null until
`RunDir.backfill_event_times()` fills it in from `epoch` once the load has ended.

    event = FaultInjected(name="redis-down", target="redis", fault="down")
    run_dir.append_event(event)                # epoch: now; t_s: from live.json
    [e for e in run_dir.load_events() if isinstance(e, BreakerTransition)]

An event type this harness does not know (a newer writer's) loads as
`OtherEvent`, so older and newer run directories both still report.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    model_validator,
)

from gameday.rundir._time import epoch_of, iso

__all__ = [
    "EVENT_TYPES",
    "AlertFiring",
    "AlertResolved",
    "AlertsUnreachable",
    "AlertsWatched",
    "ArrivalError",
    "BreakerTransition",
    "Event",
    "EventBase",
    "ExperimentStarted",
    "FaultInjected",
    "FaultRemoved",
    "FaultsReset",
    "HypothesisChecked",
    "LoadStarted",
    "LoadStopped",
    "OtherEvent",
    "ReplicaPromoted",
    "BackupTaken",
    "DataRestored",
    "SafeguardTripped",
    "SignalsUnreachable",
    "StageChanged",
    "SteadyStateWaitEvent",
    "WorkerLost",
    "parse_event",
]


class EventBase(BaseModel):
    """What every event has. `epoch` defaults to now and `wall` to `epoch`'s; an event
    read from an older run directory without `epoch` gets it from `wall`."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    type: str
    # both filled in by `_stamp` (now, or the one from the other)
    epoch: float = Field(default_factory=time.time)
    wall: str = ""
    t_s: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _stamp(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if data.get("epoch") is None:
            wall = data.get("wall")
            data["epoch"] = epoch_of(wall) if isinstance(wall, str) else time.time()
        data["epoch"] = round(float(data["epoch"]), 3)
        if not data.get("wall"):
            data["wall"] = iso(data["epoch"])
        return data

    def with_t_s(self, start_epoch: float) -> Self:
        """This event dated on the load's clock, which started at `start_epoch`."""
        # + 0.0: an event in the load's first millisecond is at 0.0, never -0.0
        return self.model_copy(update={"t_s": round(self.epoch - start_epoch, 3) + 0.0})


class LoadStarted(EventBase):
    """The Locust master started the load (`t_s` 0)."""

    type: Literal["load_started"] = "load_started"
    scenario: str | None = None
    shape: str | None = None


class LoadStopped(EventBase):
    type: Literal["load_stopped"] = "load_stopped"
    reason: str | None = None  # completed, interrupted, error


class StageChanged(EventBase):
    """The shape asked for a new rate (open model) or number of users (closed)."""

    type: Literal["stage_changed"] = "stage_changed"
    target_rps: float | None = None
    users: int | None = None
    spawn_rate: float | None = None


class ArrivalError(EventBase):
    """Open model: one scheduled arrival raised instead of sending its request (the
    schedule goes on); `arrival` is its kind, `error` the exception, shortened."""

    type: Literal["arrival_error"] = "arrival_error"
    arrival: str
    error: str


class WorkerLost(EventBase):
    type: Literal["worker_lost"] = "worker_lost"
    worker: str


class ExperimentStarted(EventBase):
    type: Literal["experiment_started"] = "experiment_started"
    name: str
    title: str | None = None


class HypothesisChecked(EventBase):
    """A steady-state probe ran (`phase`: before, during, after, or empty)."""

    type: Literal["hypothesis_checked"] = "hypothesis_checked"
    phase: str = ""
    probe: str
    ok: bool
    value: Any = None


class FaultInjected(EventBase):
    type: Literal["fault_injected"] = "fault_injected"
    name: str
    target: str | None = None  # a Toxiproxy proxy or a stack component
    fault: str | None = None  # latency, down, SIGSTOP, SIGKILL, ...
    attributes: dict[str, Any] = {}


class FaultRemoved(EventBase):
    type: Literal["fault_removed"] = "fault_removed"
    name: str
    target: str | None = None


class FaultsReset(EventBase):
    """The last-resort reset after an experiment: `proxies` (absent: every proxy)."""

    type: Literal["faults_reset"] = "faults_reset"
    proxies: list[str] | None = None


class ReplicaPromoted(EventBase):
    """A replica was promoted (the remedy of a failover, not a fault): PostgreSQL's by
    `stack promote-replica`, or Redis's by Sentinel (target `redis`; attributes `took_s`,
    kill to the new primary taking a write, and `primary`, its address)."""

    type: Literal["replica_promoted"] = "replica_promoted"
    name: str
    target: str | None = None
    attributes: dict[str, Any] = {}


class BackupTaken(EventBase):
    """A base backup of PostgreSQL was taken (`stack up --wal-archive`; the restore drill)."""

    type: Literal["backup_taken"] = "backup_taken"
    name: str
    target: str | None = None
    attributes: dict[str, Any] = {}  # label, start_lsn, end_lsn, took_s


class DataRestored(EventBase):
    """A component's data was restored from a backup and it answers writes again (the
    remedy of a restore drill, not a fault); `attributes` say from what and how long."""

    type: Literal["data_restored"] = "data_restored"
    name: str
    target: str | None = None
    attributes: dict[str, Any] = {}  # backup, last_archived_segment, lsn, took_s


class BreakerTransition(EventBase):
    """A circuit breaker of the service changed state (read from its /metrics)."""

    type: Literal["breaker_transition"] = "breaker_transition"
    dependency: str
    from_state: str | None = None
    to_state: str


class SteadyStateWaitEvent(EventBase):
    """A suite's wait for the steady state before experiment `name` (`stage` before) or
    after the last one (`stage` after): `result` started, then held or gave_up."""

    type: Literal["steady_state_wait"] = "steady_state_wait"
    name: str
    stage: str = "before"
    result: Literal["started", "held", "gave_up"]
    timeout_s: float | None = None
    window_s: float | None = None
    p95_max_ms: float | None = None
    error_rate_max: float | None = None
    waited_s: float | None = None
    value: dict[str, Any] | None = None  # the window's p95_ms, error_rate, requests


class SafeguardTripped(EventBase):
    """A stop condition fired; dated when its probe found the condition breached."""

    type: Literal["safeguard_tripped"] = "safeguard_tripped"
    probe: str
    title: str | None = None  # the experiment's
    value: Any = None  # the probe's output


class SignalsUnreachable(EventBase):
    """The target's signals source (breaker states) did not answer `polls_failed` polls
    in a row; dated at the first. Breaker states in that gap are unknown: the report
    says ERROR with this reason, never a pass."""

    type: Literal["signals_unreachable"] = "signals_unreachable"
    source: str
    reason: str
    polls_failed: int = 1


class AlertsWatched(EventBase):
    """The harness started polling a Prometheus server's alerts (`source`), whose rules
    define `alerts` (their names): detection can be judged from here on."""

    type: Literal["alerts_watched"] = "alerts_watched"
    source: str
    alerts: list[str] = []


class AlertFiring(EventBase):
    """An alert was seen firing (dated when the harness's poll saw it: an upper bound on
    when it started firing, within one poll interval). `active_at` is Prometheus's own
    start of its pending state; `labels` its labels (without `alertname`)."""

    type: Literal["alert_firing"] = "alert_firing"
    alert: str
    labels: dict[str, str] = {}
    severity: str | None = None
    active_at: str | None = None
    summary: str | None = None


class AlertResolved(EventBase):
    """An alert seen firing is no longer firing (dated by the poll that saw it gone)."""

    type: Literal["alert_resolved"] = "alert_resolved"
    alert: str
    labels: dict[str, str] = {}


class AlertsUnreachable(EventBase):
    """The Prometheus server whose alerts were watched did not answer `polls_failed`
    polls in a row; dated at the first. Whether an alert fired there is unknown: the
    report says ERROR with this reason, never a pass."""

    type: Literal["alerts_unreachable"] = "alerts_unreachable"
    source: str
    reason: str
    polls_failed: int = 1


class OtherEvent(EventBase):
    """An event type this harness does not know; its fields are kept as they are."""

    model_config = ConfigDict(frozen=True, extra="allow")


_KNOWN: tuple[type[EventBase], ...] = (
    LoadStarted,
    LoadStopped,
    StageChanged,
    WorkerLost,
    ArrivalError,
    ExperimentStarted,
    HypothesisChecked,
    FaultInjected,
    FaultRemoved,
    FaultsReset,
    ReplicaPromoted,
    BackupTaken,
    DataRestored,
    BreakerTransition,
    SteadyStateWaitEvent,
    SafeguardTripped,
    SignalsUnreachable,
    AlertsWatched,
    AlertFiring,
    AlertResolved,
    AlertsUnreachable,
)
EVENT_TYPES: dict[str, type[EventBase]] = {
    str(cls.model_fields["type"].default): cls for cls in _KNOWN
}
_OTHER = "other"


def _tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if isinstance(kind, str) and kind in EVENT_TYPES else _OTHER


Event = Annotated[
    Annotated[LoadStarted, Tag("load_started")]
    | Annotated[LoadStopped, Tag("load_stopped")]
    | Annotated[StageChanged, Tag("stage_changed")]
    | Annotated[WorkerLost, Tag("worker_lost")]
    | Annotated[ArrivalError, Tag("arrival_error")]
    | Annotated[ExperimentStarted, Tag("experiment_started")]
    | Annotated[HypothesisChecked, Tag("hypothesis_checked")]
    | Annotated[FaultInjected, Tag("fault_injected")]
    | Annotated[FaultRemoved, Tag("fault_removed")]
    | Annotated[FaultsReset, Tag("faults_reset")]
    | Annotated[ReplicaPromoted, Tag("replica_promoted")]
    | Annotated[BackupTaken, Tag("backup_taken")]
    | Annotated[DataRestored, Tag("data_restored")]
    | Annotated[BreakerTransition, Tag("breaker_transition")]
    | Annotated[SteadyStateWaitEvent, Tag("steady_state_wait")]
    | Annotated[SafeguardTripped, Tag("safeguard_tripped")]
    | Annotated[SignalsUnreachable, Tag("signals_unreachable")]
    | Annotated[AlertsWatched, Tag("alerts_watched")]
    | Annotated[AlertFiring, Tag("alert_firing")]
    | Annotated[AlertResolved, Tag("alert_resolved")]
    | Annotated[AlertsUnreachable, Tag("alerts_unreachable")]
    | Annotated[OtherEvent, Tag(_OTHER)],
    Discriminator(_tag),
]
"""One event of the timeline, discriminated by `type` (unknown types: `OtherEvent`)."""

_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(line: str | bytes) -> Event:
    """One line of events.jsonl (raises pydantic's ValidationError when invalid)."""
    return _ADAPTER.validate_json(line)
