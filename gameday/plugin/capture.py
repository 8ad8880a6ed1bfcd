"""The HDR capture: exact per-second latency on every Locust process, for any user class.

Workers (and a single local process) record each request Locust's `request` event
reports into per-endpoint, per-second HdrHistograms (`Recorder`), and ship the delta in
Locust's regular worker reports; the master (`Store`) merges them. The master writes
`live.json` every second (read by the live view and SLO probes) and, once the last
worker report is in, the run directory's per-second files, exemplars, the write ledger
(`gameday.ledger`, recorded here) and generator.json.

Open model: the run's clock starts only when every worker is ready (its users'
`on_start` done): each worker says so (`gameday_ready`) and waits for the master's
`gameday_go`; the master waits at most `LoadConfig.ready_timeout_s`, writing the
progress to `live.json` (`waiting`), and a worker that never connected or was not ready
in time makes the run invalid with that reason (gameday/plugin/readiness.py).

Latency is Locust's response time, except for the first request of an open-model
arrival: that one counts from the arrival's intended start (`intend`), so time spent
waiting for a free slot counts too. The request id of an exemplar is the request
context's `request_id`, else the request's `X-Request-ID` header, else none.
"""

from __future__ import annotations  # noqa: I001  (locust first, see below)

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gevent
import locust  # noqa: F401  (first: it monkey-patches the standard library)
import psutil
from locust.env import Environment
from locust.runners import STATE_MISSING, MasterRunner, WorkerRunner

from gameday import ledger
from gameday.load import rundir
from gameday.load.capture_model import Recorder, Store
from gameday.load.config import LoadConfig
from gameday.load.live_metrics import CpuMeter, GeneratorNow, LiveCollector, LiveTotals
from gameday.load.shapes import CLOSED, OPEN
from gameday.load.validity import LAG_PROBE_S, CpuSpans, LoopLag, invalid_reasons
from gameday.plugin import live_metrics, readiness
from gameday.rundir import (
    Event,
    GeneratorInfo,
    GeneratorReport,
    LoadStarted,
    LoadStopped,
    RunDir,
    StageChanged,
    WorkerLost,
    iso,
    write_atomic,
)


@dataclass
class State:
    config: LoadConfig = field(default_factory=LoadConfig)
    installed: bool = False  # the run's config is in place (Locust's init event)
    start_epoch: float = field(default_factory=time.time)
    stop_epoch: float | None = None
    # The run's clock: started at test_start (closed model), or once every worker is
    # ready (open model, gameday.plugin.readiness); ready_wait_s is the wait in between.
    started: bool = False
    # Open model: this process's scheduler has issued every arrival and its in-flight
    # ones are over (or out of drain time): a local run can end without waiting longer.
    schedule_done: bool = False
    test_start_mono: float | None = None
    ready_wait_s: float | None = None
    workers_never_connected: int = 0
    # CPU of the load-sending processes (max_worker_cpu_pct), and the master's own from
    # the clock's start: (wall_s, cpu_s) then, its mean share at the end
    cpu: CpuSpans = field(default_factory=CpuSpans)
    cpu_judged: set[str] = field(default_factory=set)
    master_cpu_start: tuple[float, float] | None = None
    master_cpu_pct: float | None = None
    lag_over_limit_s: dict[str, int] = field(default_factory=dict)  # per load-sending process
    max_lag_ms: float = 0.0
    lost_workers: set[str] = field(default_factory=set)
    events: list[Event] = field(default_factory=list)
    # The live metrics endpoint: per process, the wall time up to which its requests
    # are merged; the generator's facts as of the last second; the server, if listening.
    merged_until: dict[str, float] = field(default_factory=dict)
    live_facts: GeneratorInfo | None = None
    live_server: Any = None


recorder = Recorder()
store = Store()
live_totals = LiveTotals()  # per endpoint since the start, for the live metrics endpoint
cpu_meter = CpuMeter()  # per Locust process, for the live metrics endpoint
state = State()
loop_lag = LoopLag()  # this process's, when it sends load
# Open model: the intended start of the arrival each greenlet runs, until its first request
_intended: dict[Any, float] = {}


def intend(intended: float) -> None:
    """The arrival running in this greenlet was due at `intended` (time.monotonic())."""
    _intended[gevent.getcurrent()] = intended


def forget_intended() -> None:
    """The arrival in this greenlet is over (it may have sent no request)."""
    _intended.pop(gevent.getcurrent(), None)


def iso_now() -> str:
    return iso(time.time())


def clock_zero() -> int:
    """The zero of every `t_s` (docs/run-data.md): the whole epoch second the clock
    started in, live.json's `start_epoch`. The per-second files count seconds from it
    too, so a `t_s`'s floor is its `second`, and an event, a ledger entry and a chaos
    action's event (dated from live.json) are on one clock."""
    return int(state.start_epoch)


def event(happened: Event) -> None:
    """Kept until the load ends (written with the per-second files), on the load's clock."""
    state.events.append(happened.with_t_s(clock_zero()))


def _failure_kind(response: Any, exception: BaseException | None) -> str | None:
    if exception is None:
        return None
    status = getattr(response, "status_code", 0) or 0
    if status >= 500:
        return "fail_5xx"
    if status >= 400:
        return "fail_4xx"
    if "timeout" in type(exception).__name__.lower() or "timed out" in str(exception).lower():
        return "fail_timeout"
    return "fail_connection"


def on_request(
    request_type: str,
    name: str,
    response_time: float,
    response: Any = None,
    context: dict[str, Any] | None = None,
    exception: BaseException | None = None,
    **_: Any,
) -> None:
    context = context or {}
    intended = context.get("intended")
    if intended is None and _intended:
        intended = _intended.pop(gevent.getcurrent(), None)
    # Open model: from the intended start, so time spent queued counts.
    latency_ms = (time.monotonic() - intended) * 1000.0 if intended is not None else response_time
    now = time.time()

    def exemplar() -> dict[str, Any]:
        request = getattr(response, "request", None)
        url = getattr(request, "url", None) or name
        return {
            "method": request_type,
            "path": str(url),
            "status": getattr(response, "status_code", 0) or 0,
            "service_ms": round(response_time, 3),
            "wall": iso(now),  # built later (Bucket.offer_exemplar): the time is now's
            "request_id": context.get("request_id") or _header_request_id(request),
        }

    recorder.record(
        second=int(now),
        endpoint=f"{request_type} {name}",
        latency_ms=latency_ms,
        failure_kind=_failure_kind(response, exception) if exception is not None else None,
        exemplar=exemplar,
        degraded=_degraded(response, exception),
    )


def _header_request_id(request: Any) -> str:
    """The request's X-Request-ID (requests' and geventhttpclient's headers both take
    any case), else ""."""
    headers = getattr(request, "headers", None)
    if not headers:
        return ""
    try:
        return str(headers.get("X-Request-ID") or headers.get("x-request-id") or "")
    except Exception:  # a client whose headers are not a mapping: no id, not a failure
        return ""


class _LedgerSink:
    """Where gameday.ledger's calls go in this process: the recorder, shipped with the
    next report."""

    def acknowledged(self, *, id: str, version: int, tenant: str, op: str, request_id: str) -> None:
        recorder.ledger.append(
            {
                "op": op,
                "id": id,
                "tenant": tenant,
                "version": version,
                # no t_s here: the process that writes the ledger dates it on the run's
                # clock from this stamp (a worker's own clock start is not the master's)
                "acked_at": iso_now(),
                "request_id": request_id or None,
            }
        )

    def sent(self, *, id: str, op: str, tenant: str, request_id: str) -> None:
        recorder.unconfirmed[request_id] = {
            "op": op,
            "id": id,
            "tenant": tenant,
            "sent_at": iso_now(),
            "request_id": request_id,
        }

    def answered(self, request_id: str) -> None:
        recorder.unconfirmed.pop(request_id, None)


def _degraded(response: Any, exception: BaseException | None) -> bool:
    """A success served by a fallback says so in `X-Degraded` (stale cache, ...)."""
    if exception is not None:
        return False
    headers = getattr(response, "headers", None)
    return bool(headers and headers.get("X-Degraded"))


def install(environment: Environment, config: LoadConfig) -> None:
    state.config = config
    state.installed = True
    environment.events.request.add_listener(on_request)
    ledger._install(_LedgerSink())
    runner = environment.runner
    readiness.install(
        environment,
        expected=config.workers,
        timeout_s=config.ready_timeout_s,
        live_json=Path(config.run_dir) / "live.json",
    )
    if isinstance(runner, WorkerRunner):
        own_process = psutil.Process()

        def report(client_id: str, data: dict[str, Any]) -> None:
            delta = recorder.take_delta()
            # cumulative: the master judges shares over spans of a second or more
            delta["wall_s"], delta["cpu_s"] = time.time(), _cpu_s(own_process)
            delta["lag_over_limit_s"], delta["max_lag_ms"] = loop_lag.take()
            data["gameday"] = delta

        environment.events.report_to_master.add_listener(report)
        if config.model != "open":  # else from the clock's start (ready_then_wait)
            environment.events.test_start.add_listener(lambda **_: gevent.spawn(_watch_loop_lag))
        environment.events.quit.add_listener(lambda **_: _write_worker_count(runner))
        return
    if isinstance(runner, MasterRunner):

        def merge(client_id: str, data: dict[str, Any]) -> None:
            if "gameday" in data:
                _merge(data["gameday"], client_id)
                if "cpu_s" in data["gameday"]:
                    _note_cpu(
                        client_id,
                        wall_s=float(data["gameday"]["wall_s"]),
                        cpu_s=float(data["gameday"]["cpu_s"]),
                    )
                _note_lag(
                    client_id,
                    int(data["gameday"].get("lag_over_limit_s", 0)),
                    float(data["gameday"].get("max_lag_ms", 0.0)),
                )

        environment.events.worker_report.add_listener(merge)
    environment.events.test_start.add_listener(lambda **_: _on_test_start(environment))
    environment.events.quit.add_listener(lambda **_: finish(environment))


def _on_test_start(environment: Environment) -> None:
    state.test_start_mono = time.monotonic()
    if state.config.model != "open":
        _begin(environment)
    elif isinstance(environment.runner, MasterRunner):
        gevent.spawn(readiness.await_workers, environment, _begin)
    # a local open run starts its clock from its arrival scheduler (ready_then_wait)


def ready_then_wait(environment: Environment) -> None:
    """The open model's scheduler, once its on_starts have run: returns when the run's
    clock has started (gameday.plugin.readiness)."""
    readiness.ready_then_wait(environment, _begin)
    if isinstance(environment.runner, WorkerRunner):
        state.start_epoch, state.started = time.time(), True  # its ledger's t_s
        gevent.spawn(_watch_loop_lag)  # a CPU-bound on_start before it is no lateness


def _begin(environment: Environment) -> None:
    """The run's clock starts: its epoch, the first event, the per-second loop."""
    state.start_epoch, state.started = time.time(), True
    if state.test_start_mono is not None:
        state.ready_wait_s = round(time.monotonic() - state.test_start_mono, 2)
    event(LoadStarted(scenario=state.config.scenario, shape=state.config.shape))
    if isinstance(environment.runner, MasterRunner):
        state.master_cpu_start = (state.start_epoch, _cpu_s(psutil.Process()))
    gevent.spawn(_every_second, environment)
    if not isinstance(environment.runner, MasterRunner):  # a local runner sends the load itself
        gevent.spawn(_watch_loop_lag)
    _serve_live_metrics()


def _write_worker_count(runner: WorkerRunner) -> None:
    """A worker's own count of the requests it recorded, written when it quits (after its
    last report): `locust/worker-count-<index>.json`, <index> Locust's (docs/run-data.md),
    so a run can show
    that the workers' counts add up to the master's."""
    out = Path(state.config.run_dir) / "locust"
    out.mkdir(parents=True, exist_ok=True)
    count = {
        "worker": runner.client_id,
        "index": runner.worker_index,
        "requests": recorder.total_requests,
        "start_epoch": state.start_epoch if state.started else None,
    }
    write_atomic(out / f"worker-count-{runner.worker_index}.json", json.dumps(count) + "\n")


def _merge(delta: dict[str, Any], process: str = "local") -> None:
    """A process's delta into the store, and what the live metrics endpoint keeps of it."""
    store.merge(delta, process)
    live_totals.add(delta)
    if "wall_s" in delta:
        state.merged_until[process] = float(delta["wall_s"])
        cpu_meter.note(process, wall_s=float(delta["wall_s"]), cpu_s=float(delta["cpu_s"]))


def _cpu_s(process: psutil.Process) -> float:
    """The process's CPU time so far, user and system."""
    times = process.cpu_times()
    return float(times.user + times.system)


def _serve_live_metrics() -> None:
    config = state.config
    if not config.metrics_port:
        return
    collector = LiveCollector(
        store,
        live_totals,
        run=Path(config.run_dir).name,
        start_epoch=clock_zero(),
        complete_before=_complete_before,
        generator=_generator_now,
        info={"scenario": config.scenario, "shape": config.shape, "model": config.model},
    )
    state.live_server = live_metrics.serve(
        collector, host=config.metrics_host, port=config.metrics_port
    )


def _complete_before() -> int:
    """The first second that a process may still add requests to: every live process's
    requests before it are merged (a worker's report carries its send time)."""
    merged = [t for p, t in state.merged_until.items() if p not in state.lost_workers]
    return int(min(merged)) if merged else int(state.start_epoch)


def _generator_now() -> GeneratorNow:
    now = time.time()
    planned = planned_at(now - state.start_epoch) if state.stop_epoch is None else None
    return GeneratorNow(
        target_rps=planned if isinstance(planned, float | int) else None,
        cpu_pct_by_process=cpu_meter.percent_by_process(now),
        valid=state.live_facts.valid if state.live_facts is not None else True,
    )


def _watch_loop_lag() -> None:
    """How late a short timer wakes in a process that sends load: the time the process
    waited for a CPU (or was stopped), which its requests wait too."""
    while state.stop_epoch is None:
        before = time.monotonic()
        gevent.sleep(LAG_PROBE_S)
        late_s = time.monotonic() - before - LAG_PROBE_S
        loop_lag.note(second=int(time.time()), lag_ms=late_s * 1000.0)


def planned_at(t_s: float) -> float | tuple[int, float] | None:
    """What the shape asks for at t_s: a rate (open) or (users, spawn rate)."""
    config = state.config
    if config.model == "open":
        return OPEN[config.shape](t_s, config)
    return CLOSED[config.shape](t_s, config)


def planned_arrivals() -> float | None:
    """Open model: the integral of the planned rate over the run, up to when it stopped
    (a suite's load, planned for the longest waits, ends with its last experiment)."""
    if state.config.model != "open":
        return None
    step = 0.05
    run_s = state.config.duration_s
    if state.stop_epoch is not None:
        run_s = min(run_s, state.stop_epoch - state.start_epoch)
    ticks = int(run_s / step)
    return sum(
        (OPEN[state.config.shape](i * step, state.config) or 0.0) * step for i in range(ticks)
    )


def _every_second(environment: Environment) -> None:
    out = Path(state.config.run_dir)
    own_process = psutil.Process()
    stage = None
    live = rundir.LiveView(store, clock_zero())
    # at once: live.json's start_epoch is the engine's cue that the clock has started
    write_atomic(out / "live.json", json.dumps(live.snapshot(int(time.time()))))
    while state.stop_epoch is None:
        gevent.sleep(1.0)
        planned = planned_at(time.time() - state.start_epoch)
        if planned is not None and planned != stage:
            stage = planned
            if isinstance(planned, tuple):
                event(StageChanged(users=planned[0], spawn_rate=planned[1]))
            else:
                event(StageChanged(target_rps=planned))
        runner = environment.runner
        if isinstance(runner, MasterRunner):
            for client in runner.clients.values():
                if client.state == STATE_MISSING and client.id not in state.lost_workers:
                    state.lost_workers.add(client.id)
                    event(WorkerLost(worker=client.id))
            # the master sends no load; its own CPU is shown beside the workers'
            cpu_meter.note("master", wall_s=time.time(), cpu_s=_cpu_s(own_process))
        elif runner is not None:
            wall_s, cpu_s = time.time(), _cpu_s(own_process)
            _note_cpu("local", wall_s=wall_s, cpu_s=cpu_s)
            _note_lag("local", *loop_lag.take())
            # wall_s: the requests recorded before it are all in this delta
            _merge({"wall_s": wall_s, "cpu_s": cpu_s, **recorder.take_delta()})
        snapshot = live.snapshot(int(time.time()))
        state.live_facts = _generator_facts()
        snapshot["generator"] = state.live_facts.model_dump()
        write_atomic(out / "live.json", json.dumps(snapshot))


def _note_cpu(process: str, *, wall_s: float, cpu_s: float) -> None:
    """A load-sending process's cumulative CPU seconds at wall_s (validity.CpuSpans).
    Spans start at the process's first sample after the clock started: the users'
    on_start before it may take a whole core and is not the load."""
    if not state.started or process not in state.cpu_judged:
        state.cpu.forget(process)
        if state.started:
            state.cpu_judged.add(process)
    state.cpu.note(process, wall_s=wall_s, cpu_s=cpu_s)


def _note_lag(process: str, over_limit_s: int, max_lag_ms: float) -> None:
    state.lag_over_limit_s[process] = state.lag_over_limit_s.get(process, 0) + over_limit_s
    state.max_lag_ms = max(state.max_lag_ms, max_lag_ms)


def _generator_facts() -> GeneratorInfo:
    total = store.total_requests()
    planned = planned_arrivals()
    achieved = (total / planned) if planned else None
    late = sum(g.late_starts for g in store.generator.values())
    failures = sum(b.failures for eps in store.buckets.values() for b in eps.values())
    config = state.config
    reasons = invalid_reasons(
        cpu_over_limit_s=max(state.cpu.over_limit_s.values(), default=0),
        lag_over_limit_s=state.lag_over_limit_s,
        workers_lost=len(state.lost_workers),
        achieved=achieved,
        failure_ratio=failures / total if total else None,
        finished=state.stop_epoch is not None,
        workers_expected=config.workers,
        workers_never_connected=state.workers_never_connected,
        workers_not_ready=readiness.readiness.not_ready,
        ready_timeout_s=config.ready_timeout_s,
    )
    return GeneratorInfo(
        valid=not reasons,
        reasons=reasons,
        max_worker_cpu_pct=round(state.cpu.max_pct, 1),
        master_cpu_pct=state.master_cpu_pct,
        ready_wait_s=state.ready_wait_s,
        workers_never_connected=state.workers_never_connected,
        workers_not_ready=readiness.readiness.not_ready,
        max_loop_lag_ms=round(state.max_lag_ms, 1),
        workers_lost=len(state.lost_workers),
        late_starts=late,
        achieved_over_target=round(achieved, 4) if achieved is not None else None,
        worker_request_totals=dict(store.worker_totals),
    )


def finish(environment: Environment) -> None:
    """Called after the last worker reports arrived: write the per-second files."""
    if state.stop_epoch is not None:
        return
    state.stop_epoch = time.time()
    runner = environment.runner
    if isinstance(runner, MasterRunner) and not state.started:
        # Locust gave up waiting for them (--expect-workers-max-wait): never connected,
        # not lost; the load never started
        state.workers_never_connected = max(state.config.workers - len(runner.clients), 0)
        state.start_epoch = state.stop_epoch
    if state.master_cpu_start is not None and state.stop_epoch > state.master_cpu_start[0]:
        wall_0, cpu_0 = state.master_cpu_start
        used_s = _cpu_s(psutil.Process()) - cpu_0
        state.master_cpu_pct = round(used_s / (state.stop_epoch - wall_0) * 100.0, 1)
    if not isinstance(runner, MasterRunner):
        _merge(recorder.take_delta())
    event(LoadStopped(reason="completed"))
    out = Path(state.config.run_dir)
    out.mkdir(parents=True, exist_ok=True)
    start, end = clock_zero(), int(state.stop_epoch)
    rundir.write_timeseries(store, start, end, out)
    rundir.write_histograms(store, start, end, out)
    rundir.write_exemplars(store, start, out)
    rundir.write_ledger(store, out, start)
    files = RunDir(out)
    files.append_events(state.events)
    files.write_generator_report(
        GeneratorReport(
            **_generator_facts().model_dump(exclude={"total_requests"}),
            start_epoch=state.start_epoch,
            stop_epoch=state.stop_epoch,
            total_requests=store.total_requests(),
        )
    )
    live_metrics.stop(state.live_server)  # the endpoint ends with the load
    state.live_server = None
