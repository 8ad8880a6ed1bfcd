"""What a fault did, read from the run's timeline and per-second series:
fault windows, the phases they cut the run into, recovery (RTO) and breaker
verification. Pure functions of recorded data; nothing here touches the stack.

    windows = fault_windows(events, end_s=600)
    recovery = measure_recovery(ok_by_second, injected_s=120.0, removed_s=180.0,
                                sustained_s=10.0, end_s=600)
    recovery.rto_s, recovery.breach_s

RTO is the time from fault injection to the first second from which every
second of a sustained window (default 10 s) meets the objectives again. The
breach runs from the first second that misses them to the last one before
recovery; its length counts whole seconds.

Failover (the PostgreSQL primary lost, the replica promoted) is measured per kind
of request from the per-second (succeeded, failed) counts of document reads and
writes: the time from the loss to the first success after the first failure,

    failover = measure_failover(reads, writes, lost_at_s=120.4)
    failover.first_read_s, failover.first_write_s   # 0.0: never interrupted

to whole seconds: a success counts from the end of the second it falls in,
since within a second the order of successes and failures is not recorded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from gameday.rundir import (
    BreakerTransition,
    Event,
    ExperimentOutcome,
    FaultInjected,
    FaultRemoved,
    SignalsUnreachable,
)
from gameday.slo.verdict import PhaseKind


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class FaultWindow(_Frozen):
    name: str
    target: str | None
    fault: str | None
    injected_s: float
    removed_s: float | None  # None: never removed before the run ended
    inferred: str | None = None  # how it was inferred (None: recorded by its provider)
    owner: str | None = None  # the experiment it was inferred for


class Phase(_Frozen):
    name: str  # steady, fault:<name>, recovered, run
    kind: PhaseKind
    start_s: float
    end_s: float


class Recovery(_Frozen):
    rto_s: float | None
    recovered_at_s: float | None
    recovery_after_removal_s: float | None
    impact_after_s: float | None  # fault start to the first second that missed the SLOs
    breach_start_s: float | None
    breach_end_s: float | None
    breach_s: float
    breached_seconds: int


class BreakerCheck(_Frozen):
    dependency: str
    opened_after_s: float | None  # fault start to the breaker opening
    closed_after_s: float | None  # fault removal to the breaker closing again
    open_within_s: float | None
    close_within_s: float | None
    passed: bool
    note: str | None = None


class Failover(_Frozen):
    lost_at_s: float
    first_read_s: float | None  # loss to the first successful document read after it
    first_write_s: float | None  # loss to the first successful write after it
    reads_failed: int  # between the loss and that first success
    writes_failed: int
    promoted_after_s: float | None = None  # loss to the replica_promoted event


SecondCounts = tuple[int, int]  # (succeeded, failed) in one second


def measure_failover(
    reads: Sequence[SecondCounts],
    writes: Sequence[SecondCounts],
    *,
    lost_at_s: float,
    promoted_at_s: float | None = None,
) -> Failover:
    """`reads[s]` / `writes[s]`: document reads / writes that succeeded and failed in second s."""
    read_s, read_failures = _first_success_after_loss(reads, lost_at_s)
    write_s, write_failures = _first_success_after_loss(writes, lost_at_s)
    return Failover(
        lost_at_s=lost_at_s,
        first_read_s=read_s,
        first_write_s=write_s,
        reads_failed=read_failures,
        writes_failed=write_failures,
        promoted_after_s=None if promoted_at_s is None else round(promoted_at_s - lost_at_s, 3),
    )


def _first_success_after_loss(
    series: Sequence[SecondCounts], lost_at_s: float
) -> tuple[float | None, int]:
    """0.0 when nothing failed after the loss (and something succeeded); None when
    nothing succeeded after it."""
    start = max(0, math.floor(lost_at_s))
    first_failure = next((s for s in range(start, len(series)) if series[s][1] > 0), None)
    if first_failure is None:
        ok = any(series[s][0] > 0 for s in range(start, len(series)))
        return (0.0 if ok else None), 0
    failed = series[first_failure][1]
    for s in range(first_failure + 1, len(series)):
        succeeded, failures = series[s]
        if succeeded > 0:
            return round(max(0.0, s + 1 - lost_at_s), 3), failed
        failed += failures
    return None, failed


def fault_windows(events: Sequence[Event], *, end_s: float) -> list[FaultWindow]:
    """Pair each fault_injected with the next fault_removed of the same name (events
    not yet on the load's clock, `t_s` null, are not on the timeline)."""
    windows: list[FaultWindow] = []
    open_faults: dict[str, tuple[FaultInjected, float]] = {}
    for event, t_s in timeline(events):
        if isinstance(event, FaultInjected):
            open_faults[event.name or event.target or "fault"] = (event, t_s)
        elif isinstance(event, FaultRemoved):
            key = event.name or event.target or "fault"
            if key in open_faults:
                start, start_s = open_faults.pop(key)
                windows.append(_window(key, start, start_s, t_s))
    for key, (start, start_s) in open_faults.items():
        windows.append(_window(key, start, start_s, None))
    return sorted(windows, key=lambda w: w.injected_s)


INFERRED_RULES = {
    "last action": "inferred from the journal: the end of the method's first action to "
    "the end of its last one",
    "first rollback": "inferred from the journal: the end of the method's first action to "
    "the end of its first rollback",
}


def inferred_windows(
    outcomes: Sequence[ExperimentOutcome], *, start_epoch: float | None
) -> list[FaultWindow]:
    """One window per experiment whose method recorded no fault (chaostoolkit-toxiproxy,
    the user's providers), from its `inferred_window`, on the load's clock."""
    windows = []
    for outcome in outcomes:
        inferred = outcome.inferred_window
        if inferred is None or start_epoch is None:
            continue
        end = inferred.end_epoch
        windows.append(
            FaultWindow(
                name=outcome.name,
                target=None,
                fault="inferred",
                injected_s=round(inferred.start_epoch - start_epoch, 3),
                removed_s=None if end is None else round(end - start_epoch, 3),
                inferred=INFERRED_RULES[inferred.until],
                owner=outcome.name,
            )
        )
    return windows


def timeline(events: Sequence[Event]) -> list[tuple[Event, float]]:
    """The events that are on the load's clock, in its order, each with its `t_s`."""
    dated = [(e, e.t_s) for e in events if e.t_s is not None]
    return sorted(dated, key=lambda pair: pair[1])


def _window(
    name: str, start: FaultInjected, injected_s: float, removed_s: float | None
) -> FaultWindow:
    return FaultWindow(
        name=name,
        target=start.target,
        fault=start.fault,
        injected_s=injected_s,
        removed_s=removed_s,
    )


def phases(
    windows: Sequence[FaultWindow], *, end_s: float, recovered_at_s: float | None = None
) -> list[Phase]:
    """steady (before the first fault), one per fault window, recovered (from
    the moment SLOs held again after the last fault, or its removal), and run."""
    out = [Phase(name="run", kind="run", start_s=0.0, end_s=end_s)]
    if not windows:
        return out
    # Steady state ends at the last whole second before the first fault: the
    # second the fault lands in is part of the fault, not of the steady state.
    first = float(math.floor(min(w.injected_s for w in windows)))
    if first > 0:
        out.insert(0, Phase(name="steady", kind="steady", start_s=0.0, end_s=first))
    for w in windows:
        stop = w.removed_s if w.removed_s is not None else end_s
        out.insert(
            -1, Phase(name=f"fault:{w.name}", kind="fault", start_s=w.injected_s, end_s=stop)
        )
    if all(w.removed_s is not None for w in windows):
        last_removed = max(w.removed_s for w in windows if w.removed_s is not None)
        start = max(last_removed, recovered_at_s or last_removed)
        if start < end_s:
            out.insert(-1, Phase(name="recovered", kind="recovered", start_s=start, end_s=end_s))
    return out


def measure_recovery(
    ok_by_second: Sequence[bool],
    *,
    injected_s: float,
    removed_s: float | None,
    sustained_s: float,
    end_s: float | None = None,
) -> Recovery:
    """`ok_by_second[s]` says whether second s met the objectives."""
    last = len(ok_by_second) if end_s is None else min(len(ok_by_second), math.ceil(end_s))
    window = max(1, math.ceil(sustained_s))
    start = max(0, math.floor(injected_s))
    recovered_at: int | None = None
    for s in range(start, last - window + 1):
        if all(ok_by_second[s : s + window]):
            recovered_at = s
            break
    horizon = recovered_at if recovered_at is not None else last
    missed = [s for s in range(start, horizon) if not ok_by_second[s]]
    breach_start = missed[0] if missed else None
    breach_end = missed[-1] + 1 if missed else None
    rto = None if recovered_at is None else max(0.0, recovered_at - injected_s)
    if recovered_at is not None and not missed:
        rto = 0.0
    after_removal = None
    if recovered_at is not None and removed_s is not None:
        after_removal = max(0.0, recovered_at - removed_s)
    return Recovery(
        rto_s=rto,
        recovered_at_s=None if recovered_at is None else float(recovered_at),
        recovery_after_removal_s=after_removal,
        impact_after_s=None if breach_start is None else max(0.0, breach_start - injected_s),
        breach_start_s=None if breach_start is None else float(breach_start),
        breach_end_s=None if breach_end is None else float(breach_end),
        breach_s=0.0
        if breach_start is None or breach_end is None
        else float(breach_end - breach_start),
        breached_seconds=len(missed),
    )


def verify_breaker(
    events: Sequence[Event],
    *,
    dependency: str,
    window: FaultWindow,
    open_within_s: float | None,
    close_within_s: float | None,
) -> BreakerCheck:
    """The breaker must open within `open_within_s` of the fault and be closed
    again within `close_within_s` of its removal."""
    transitions = [
        (t_s, e.to_state.lower())
        for e, t_s in timeline(events)
        if isinstance(e, BreakerTransition) and e.dependency == dependency
    ]
    opened = next(
        (t for t, state in transitions if state == "open" and t >= window.injected_s), None
    )
    closed = None
    if window.removed_s is not None:
        closed = next(
            (t for t, state in transitions if state == "closed" and t >= window.removed_s), None
        )
    opened_after = None if opened is None else opened - window.injected_s
    closed_after = None if closed is None or window.removed_s is None else closed - window.removed_s
    notes: list[str] = []
    passed = True
    if open_within_s is not None:
        if opened_after is None:
            passed, notes = False, [*notes, "never opened"]
        elif opened_after > open_within_s:
            passed, notes = False, [*notes, f"opened after {opened_after:.1f} s"]
    if close_within_s is not None:
        if closed_after is None:
            passed, notes = False, [*notes, "never closed again"]
        elif closed_after > close_within_s:
            passed, notes = False, [*notes, f"closed after {closed_after:.1f} s"]
    return BreakerCheck(
        dependency=dependency,
        opened_after_s=None if opened_after is None else round(opened_after, 3),
        closed_after_s=None if closed_after is None else round(closed_after, 3),
        open_within_s=open_within_s,
        close_within_s=close_within_s,
        passed=passed,
        note="; ".join(notes) or None,
    )


def signals_problems(events: Sequence[Event]) -> list[str]:
    """A signals source that did not answer during the run: breaker states are unknown
    there, so the run's data is an error (never a pass)."""
    return [
        f"signals source {e.source} unreachable from "
        f"{'?' if e.t_s is None else f'{e.t_s:.1f}'} s on ({e.polls_failed} polls in a row or "
        f"more; {e.reason}): breaker states unknown"
        for e in events
        if isinstance(e, SignalsUnreachable)
    ]
