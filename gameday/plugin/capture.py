"""The HDR capture: exact per-second latency on every Locust process, for any user class.

Workers (and a single local process) record each request Locust's `request` event
reports into per-endpoint, per-second HdrHistograms (`Recorder`), and ship the delta in
Locust's regular worker reports; the master (`Store`) merges them. The master writes
`live.json` every second (read by the live view and SLO probes) and, once the last
worker report is in, the run directory's per-second files, exemplars, the write ledger
(`gameday.ledger`, recorded here) and generator.json.

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
from gameday.load.validity import CPU_LIMIT_PCT, LAG_PROBE_S, LoopLag, invalid_reasons
from gameday.plugin import live_metrics
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
    max_cpu_pct: float = 0.0
    cpu_over_limit_s: int = 0
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


def event(happened: Event) -> None:
    """Kept until the load ends (written with the per-second files), on the load's clock."""
    state.events.append(happened.with_t_s(state.start_epoch))


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

    def exemplar() -> dict[str, Any]:
        request = getattr(response, "request", None)
        url = getattr(request, "url", None) or name
        return {
            "method": request_type,
            "path": str(url),
            "status": getattr(response, "status_code", 0) or 0,
            "service_ms": round(response_time, 3),
            "wall": iso_now(),
            "request_id": context.get("request_id") or _header_request_id(request),
        }

    recorder.record(
        second=int(time.time()),
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
                "acked_at": iso_now(),
                "t_s": round(time.time() - state.start_epoch, 3),
                "request_id": request_id or None,
            }
        )

    def sent(self, *, id: str, op: str, tenant: str, request_id: str) -> None:
        recorder.unconfirmed[request_id] = {
            "op": op,
            "id": id,
            "tenant": tenant,
            "sent_at": iso_now(),
            "t_s": round(time.time() - state.start_epoch, 3),
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
    if isinstance(runner, WorkerRunner):
        own_process = psutil.Process()
        own_process.cpu_percent()

        def report(client_id: str, data: dict[str, Any]) -> None:
            delta = recorder.take_delta()
            delta["cpu_pct"] = own_process.cpu_percent()  # since the last report
            delta["wall_s"], delta["cpu_s"] = time.time(), _cpu_s(own_process)
            delta["lag_over_limit_s"], delta["max_lag_ms"] = loop_lag.take()
            data["gameday"] = delta

        environment.events.report_to_master.add_listener(report)
        environment.events.test_start.add_listener(lambda **_: gevent.spawn(_watch_loop_lag))
        return
    if isinstance(runner, MasterRunner):

        def merge(client_id: str, data: dict[str, Any]) -> None:
            if "gameday" in data:
                _merge(data["gameday"], client_id)
                _note_cpu(float(data["gameday"].get("cpu_pct", 0.0)))
                _note_lag(
                    client_id,
                    int(data["gameday"].get("lag_over_limit_s", 0)),
                    float(data["gameday"].get("max_lag_ms", 0.0)),
                )

        environment.events.worker_report.add_listener(merge)
    environment.events.test_start.add_listener(lambda **_: _on_test_start(environment))
    environment.events.quit.add_listener(lambda **_: finish(environment))


def _on_test_start(environment: Environment) -> None:
    state.start_epoch = time.time()
    event(LoadStarted(scenario=state.config.scenario, shape=state.config.shape))
    gevent.spawn(_every_second, environment)
    if not isinstance(environment.runner, MasterRunner):  # a local runner sends the load itself
        gevent.spawn(_watch_loop_lag)
    _serve_live_metrics()


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
        start_epoch=int(state.start_epoch),
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
    own_process.cpu_percent()
    stage = None
    live = rundir.LiveView(store, int(state.start_epoch))
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
            _note_cpu(own_process.cpu_percent())
            _note_lag("local", *loop_lag.take())
            # wall_s: the requests recorded before it are all in this delta
            _merge({"wall_s": time.time(), "cpu_s": _cpu_s(own_process), **recorder.take_delta()})
        snapshot = live.snapshot(int(time.time()))
        state.live_facts = _generator_facts()
        snapshot["generator"] = state.live_facts.model_dump()
        write_atomic(out / "live.json", json.dumps(snapshot))


def _note_cpu(cpu_pct: float) -> None:
    state.max_cpu_pct = max(state.max_cpu_pct, cpu_pct)
    if cpu_pct > CPU_LIMIT_PCT:
        state.cpu_over_limit_s += 1


def _note_lag(process: str, over_limit_s: int, max_lag_ms: float) -> None:
    state.lag_over_limit_s[process] = state.lag_over_limit_s.get(process, 0) + over_limit_s
    state.max_lag_ms = max(state.max_lag_ms, max_lag_ms)


def _generator_facts() -> GeneratorInfo:
    total = store.total_requests()
    planned = planned_arrivals()
    achieved = (total / planned) if planned else None
    late = sum(g.late_starts for g in store.generator.values())
    failures = sum(b.failures for eps in store.buckets.values() for b in eps.values())
    reasons = invalid_reasons(
        cpu_over_limit_s=state.cpu_over_limit_s,
        lag_over_limit_s=state.lag_over_limit_s,
        workers_lost=len(state.lost_workers),
        achieved=achieved,
        failure_ratio=failures / total if total else None,
        finished=state.stop_epoch is not None,
    )
    return GeneratorInfo(
        valid=not reasons,
        reasons=reasons,
        max_worker_cpu_pct=round(state.max_cpu_pct, 1),
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
    if not isinstance(environment.runner, MasterRunner):
        _merge(recorder.take_delta())
    event(LoadStopped(reason="completed"))
    out = Path(state.config.run_dir)
    out.mkdir(parents=True, exist_ok=True)
    start, end = int(state.start_epoch), int(state.stop_epoch)
    rundir.write_timeseries(store, start, end, out)
    rundir.write_histograms(store, start, end, out)
    rundir.write_exemplars(store, start, out)
    rundir.write_ledger(store, out)
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
