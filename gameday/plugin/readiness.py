"""The open model's start line: the run's clock starts when every worker is ready.

A worker is ready when its users' `on_start` have run (`gameday.plugin.arrivals` makes
the simulated clients first). Before this barrier the master's clock started at Locust's
`test_start`, so the time the workers spent in `on_start` (15-17 s per worker for 32
workers of the reference scenario on 2 cores) counted in the run's duration and its
planned arrivals, and the shape could end before a slow worker had sent anything.

    worker                               master
    on_start x 16 per user class
    send gameday_ready ─────────────▶    ready[worker] = now; live.json "waiting"
    wait for gameday_go                  all ready, or ready_timeout_s passed:
                       ◀───────────────  start the clock, send gameday_go to every worker
    arrival clock starts                 (a worker ready later gets its go at once)
    last arrival, in-flight ones over
    send gameday_done ──────────────▶    done[worker]: once every worker is done (or
                                         lost), the shape ends the run at once

A local run (no workers) starts its clock itself once its on_starts are done. Waiting for
the workers to connect is Locust's own (`--expect-workers-max-wait`, the same bound);
the master records those that never connected, `capture` turns both into reasons.
"""

from __future__ import annotations  # noqa: I001  (locust first, see below)

import locust  # noqa: F401  (first: it monkey-patches the standard library)

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
from gevent.event import Event
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from gameday.rundir import write_atomic

READY = "gameday_ready"
GO = "gameday_go"
DONE = "gameday_done"
PROGRESS_S = 0.5  # how often the master writes the waiting progress


@dataclass
class Readiness:
    expected: int = 0
    timeout_s: float = 60.0
    live_json: Path | None = None
    # master: worker id -> when its ready message arrived (wall clock)
    ready_at: dict[str, float] = field(default_factory=dict)
    connected: set[str] = field(default_factory=set)  # master: every worker that connected
    done: set[str] = field(default_factory=set)  # master: workers whose schedule is over
    started: bool = False
    not_ready: int = 0  # master: workers not ready when the wait ended
    go: Event = field(default_factory=Event)  # worker: the master's go arrived


readiness = Readiness()


def install(environment: Environment, *, expected: int, timeout_s: float, live_json: Path) -> None:
    readiness.expected, readiness.timeout_s, readiness.live_json = expected, timeout_s, live_json
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        runner.register_message(READY, _on_ready)
        runner.register_message(DONE, lambda msg, **_: readiness.done.add(msg.node_id))

        def connected(client_id: str, **_: Any) -> None:
            readiness.connected.add(client_id)
            write_progress(environment)

        environment.events.worker_connect.add_listener(connected)
        write_progress(environment)  # 0 connected: the engine can tell none ever did
    elif isinstance(runner, WorkerRunner):
        runner.register_message(GO, lambda **_: readiness.go.set())


def _on_ready(environment: Environment, msg: Any, **_: Any) -> None:
    readiness.ready_at[msg.node_id] = time.time()
    if readiness.started:  # late: it starts at once, on the run's clock
        _send_go(environment, msg.node_id)
    else:
        write_progress(environment)


def _send_go(environment: Environment, client_id: str | None = None) -> None:
    runner = environment.runner
    assert isinstance(runner, MasterRunner)
    runner.send_message(GO, {}, client_id=client_id)


def write_progress(environment: Environment, waited_s: float = 0.0) -> None:
    """live.json while the clock has not started: `{"waiting": {...}}`, which the engine
    shows as the progress line (docs/run-data.md)."""
    if readiness.started or readiness.live_json is None:
        return
    waiting = {
        "expected": readiness.expected,
        "connected": len(readiness.connected),
        "ready": len(readiness.ready_at),
        "waited_s": round(waited_s, 1),
        "timeout_s": readiness.timeout_s,
    }
    readiness.live_json.parent.mkdir(parents=True, exist_ok=True)
    # no seconds yet, and no start_epoch: the load's clock has not started
    live = {"waiting": waiting, "seconds": [], "total_requests": 0}
    write_atomic(readiness.live_json, json.dumps(live))


def await_workers(environment: Environment, begin: Callable[[Environment], None]) -> None:
    """Master, from test_start: wait until every expected worker is ready or the bound
    passes, then start the clock (`begin`) and tell every worker to go."""
    since = time.monotonic()
    while len(readiness.ready_at) < readiness.expected:
        waited_s = time.monotonic() - since
        if waited_s > readiness.timeout_s:
            break
        write_progress(environment, waited_s)
        gevent.sleep(PROGRESS_S)
    readiness.not_ready = max(readiness.expected - len(readiness.ready_at), 0)
    readiness.started = True
    begin(environment)
    _send_go(environment)


def ready_then_wait(environment: Environment, begin: Callable[[Environment], None]) -> None:
    """In the process that sends load, once its on_starts have run: a worker tells the
    master and waits for its go; a local process starts the run's clock itself."""
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.send_message(READY, {})
        readiness.go.wait()
        return
    readiness.started = True
    begin(environment)


def schedule_done(environment: Environment) -> None:
    """A worker's scheduler has issued every arrival and its in-flight ones are over."""
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.send_message(DONE, {})


def every_worker_done(lost: set[str]) -> bool:
    """Master: every expected worker's schedule is over, or the worker was lost. Its
    last report comes when the master quits (Locust's quit sends a final one), so the
    run may end now: waiting for the next regular report adds nothing."""
    return len(readiness.done | lost) >= readiness.expected


__all__ = [
    "DONE",
    "GO",
    "READY",
    "await_workers",
    "every_worker_done",
    "install",
    "readiness",
    "ready_then_wait",
    "schedule_done",
]
