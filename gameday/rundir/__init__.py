"""The run directory's contract: its files (`RunDir`), its records and its events.

Pydantic and the standard library only, so that the Locust processes and the
`chaos run` process import it cheaply. Every writer of a run directory and the
report use these models; docs/run-data.md documents every field (a unit test
checks that it does).
"""

from __future__ import annotations

from gameday.rundir._time import epoch_of, iso
from gameday.rundir.directory import RunDir, first_error, write_atomic
from gameday.rundir.events import (
    EVENT_TYPES,
    AlertFiring,
    AlertResolved,
    AlertsUnreachable,
    AlertsWatched,
    ArrivalError,
    BackupTaken,
    BreakerTransition,
    DataRestored,
    Event,
    EventBase,
    ExperimentStarted,
    FaultInjected,
    FaultRemoved,
    FaultsReset,
    HypothesisChecked,
    LoadStarted,
    LoadStopped,
    OtherEvent,
    ReplicaPromoted,
    SafeguardTripped,
    SignalsUnreachable,
    StageChanged,
    SteadyStateWaitEvent,
    WorkerLost,
    parse_event,
)
from gameday.rundir.records import (
    Exemplar,
    ExperimentOutcome,
    GeneratorInfo,
    GeneratorReport,
    InferredWindow,
    LedgerEntry,
    Reconciliation,
    RollbackOutcome,
    RunRecord,
    SteadyStateWait,
    UnconfirmedWrite,
)

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
    "Exemplar",
    "ExperimentOutcome",
    "ExperimentStarted",
    "FaultInjected",
    "FaultRemoved",
    "FaultsReset",
    "GeneratorInfo",
    "GeneratorReport",
    "InferredWindow",
    "HypothesisChecked",
    "LedgerEntry",
    "UnconfirmedWrite",
    "LoadStarted",
    "LoadStopped",
    "OtherEvent",
    "Reconciliation",
    "ReplicaPromoted",
    "BackupTaken",
    "DataRestored",
    "RollbackOutcome",
    "RunDir",
    "RunRecord",
    "SafeguardTripped",
    "SignalsUnreachable",
    "StageChanged",
    "SteadyStateWait",
    "SteadyStateWaitEvent",
    "WorkerLost",
    "epoch_of",
    "first_error",
    "iso",
    "parse_event",
    "write_atomic",
]
