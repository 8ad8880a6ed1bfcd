"""`gameday run`'s load side: Locust master and workers as subprocesses.

Locust never runs in this process (it monkey-patches the standard library);
this process starts it, watches `live.json`, stops it on time or on Ctrl-C,
and completes `run.json`. The evidence is written before any verdict.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from gameday.errors import ConfigError, GamedayError
from gameday.load import facts
from gameday.load.config import (
    CLOSED_STOP_TIMEOUT_S,
    CONFIG_OPTION,
    OPEN_SHAPES,
    SHAPES,
    LoadConfig,
)
from gameday.load.locustfiles import PLUGIN_LOCUSTFILE, locustfile_paths
from gameday.rundir import RunDir, RunRecord, iso
from gameday.settings import PROJECT_ROOT, StackSettings

# The reference service's, when LoadConfig.locustfiles names none.
LOCUSTFILE = PROJECT_ROOT / "scenarios" / "locustfile.py"
REPORTS = Path("reports")  # run directories' default parent, from the current directory
DEFAULT_TENANTS = 5


class Sidecar(Protocol):
    """Something that runs beside the load on its clock (a chaos experiment)."""

    def tick(self, elapsed_s: float) -> None: ...

    def interrupt(self) -> None: ...

    def stop_reason(self) -> str | None:
        """Why the load should end before its planned end (None: it should not)."""
        ...

    def load_complete(self, elapsed_s: float) -> bool:
        """Everything planned beside the load is over: the load may end now, before the
        bound it was planned for (a suite's waits for the steady state were shorter than
        allowed). Not an early stop: the run is complete."""
        ...


class RunFailed(GamedayError):
    def __init__(self, message: str, *, run_dir: Path) -> None:
        super().__init__(f"{message} (run data in {run_dir})")
        self.run_dir = run_dir


@dataclass
class LiveStats:
    """The last seconds of live.json, for the progress line.

    `error_rate` counts errors as the report does (5xx, connection, timeout: live.json's
    `errors`); `client_error_rate` is the share of 4xx answers, shown apart."""

    elapsed_s: float
    planned_s: float
    rps: float
    p95_ms: float | None
    error_rate: float
    total: int
    client_error_rate: float = 0.0
    # before the run's clock starts: live.json's `waiting` (the workers' readiness)
    waiting: dict[str, Any] | None = None

    def describe(self) -> str:
        """`95 rps  p95 41 ms  errors 0.00%  4xx 0.40%  total 1234` (docs/scenarios.md);
        before the clock starts, `waiting for workers: 30 of 32 ready, 32 connected (4 s
        of at most 60 s)`."""
        if self.waiting is not None:
            w = self.waiting
            return (
                f"waiting for workers: {w.get('ready', 0)} of {w.get('expected', 0)} ready, "
                f"{w.get('connected', 0)} connected ({w.get('waited_s', 0):.0f} s of at most "
                f"{w.get('timeout_s', 0):.0f} s)"
            )
        p95 = f"{self.p95_ms:.0f} ms" if self.p95_ms is not None else "-"
        return (
            f"{self.rps:.0f} rps  p95 {p95}  errors {self.error_rate:.2%}  "
            f"4xx {self.client_error_rate:.2%}  total {self.total}"
        )


def validate(config: LoadConfig) -> None:
    """The shape and its numbers. The mix is the plan's to check: its name against the
    profile's mixes, its classes against the Locust files' (check_locustfiles)."""
    if config.shape not in SHAPES:
        raise ConfigError(f"unknown shape {config.shape!r}; expected one of {', '.join(SHAPES)}")
    if config.shape in OPEN_SHAPES and config.target_rps is None:
        raise ConfigError(f"shape {config.shape} is an open model: give --rate RPS")
    if config.shape not in OPEN_SHAPES and config.users is None:
        raise ConfigError(
            f"shape {config.shape} is a closed model: give --users N (and --spawn-rate R), "
            f"or use an open shape ({', '.join(OPEN_SHAPES)}) with --rate RPS"
        )


def new_run_dir(base: Path | None, scenario: str, *, allow_existing: bool = False) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    # Under the current directory: a user's own project, or the repository for make demo.
    run_dir = (base if base is not None else REPORTS / f"{stamp}-{scenario}").absolute()
    if run_dir.exists() and any(run_dir.iterdir()) and not allow_existing:
        raise ConfigError(f"run directory {run_dir} is not empty: choose another --out")
    (run_dir / "locust").mkdir(parents=True, exist_ok=True)
    return run_dir


def _free_port() -> int:
    import socket

    # Ask the kernel below the ephemeral range is not possible; a bound-then-freed
    # port is used within a second, by the master we start next.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _locust_argv(config: LoadConfig, run_dir: Path) -> list[str]:
    """The plugin's file first (its shape is the one Locust picks), then the target's."""
    files = locustfile_paths(config.locustfiles or [str(LOCUSTFILE)])
    return [
        sys.executable,
        "-m",
        "locust",
        "-f",
        ",".join([str(PLUGIN_LOCUSTFILE), *map(str, files)]),
        CONFIG_OPTION,
        str(RunDir(run_dir).load_config_json),
        "--host",
        config.target_url,
        "--loglevel",
        "WARNING",
    ]


def start_locust(config: LoadConfig, run_dir: Path) -> list[subprocess.Popen[bytes]]:
    # The run's facts travel as a file named on the command line, never in the environment;
    # only this user may read it (it holds the tenants' tokens) and it goes when Locust has.
    path = RunDir(run_dir).load_config_json
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(config.model_dump_json(indent=2) + "\n")
    env = dict(os.environ)
    logs = run_dir / "locust"
    if config.workers == 0:
        argv = [*_locust_argv(config, run_dir), *_outputs(run_dir, config)]
        return [_spawn(argv, env, logs / "locust.log")]
    port = _free_port()
    master = _spawn(master_argv(config, run_dir, port), env, logs / "master.log")
    workers = [
        _spawn(worker_argv(config, run_dir, port), env, logs / f"worker-{i}.log")
        for i in range(config.workers)
    ]
    return [master, *workers]


def master_argv(config: LoadConfig, run_dir: Path, port: int) -> list[str]:
    """The master's command line: it writes the results and waits for config.workers
    to connect, at most config.ready_timeout_s."""
    return [
        *_locust_argv(config, run_dir),
        *_outputs(run_dir, config),
        "--master",
        "--master-bind-host",
        "127.0.0.1",
        "--master-bind-port",
        str(port),
        "--expect-workers",
        str(config.workers),
        "--expect-workers-max-wait",  # whole seconds only
        str(max(math.ceil(config.ready_timeout_s), 1)),
    ]


def worker_argv(config: LoadConfig, run_dir: Path, port: int) -> list[str]:
    return [
        *_locust_argv(config, run_dir),
        "--worker",
        "--master-host",
        "127.0.0.1",
        "--master-port",
        str(port),
    ]


def _outputs(run_dir: Path, config: LoadConfig) -> list[str]:
    # Closed model only (the master passes it to its workers): in the open model a
    # worker's users never end their task, so a stop timeout would hold each worker past
    # the 0.5 s in which Locust's master takes its last report.
    stop = ["--stop-timeout", str(CLOSED_STOP_TIMEOUT_S)] if config.model == "closed" else []
    return [
        "--headless",
        *stop,
        "--only-summary",
        "--csv",
        str(run_dir / "locust" / "stats"),
        "--html",
        str(run_dir / "locust" / "report.html"),
    ]


def _spawn(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            argv,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def read_live(run_dir: Path, config: LoadConfig, elapsed_s: float) -> LiveStats:
    from gameday import histograms

    try:
        live = json.loads((run_dir / "live.json").read_text())
    except (FileNotFoundError, ValueError):
        return LiveStats(elapsed_s, config.duration_s, 0.0, None, 0.0, 0)
    if "waiting" in live:
        return LiveStats(elapsed_s, config.duration_s, 0.0, None, 0.0, 0, waiting=live["waiting"])
    recent = live["seconds"][-10:]
    requests = sum(s["requests"] for s in recent)
    errors = sum(s["errors"] for s in recent)
    client_errors = sum(s["fail_4xx"] for s in recent)
    merged = histograms.merge(histograms.decode(s["hist"]) for s in recent)
    p95 = histograms.percentile_ms(merged, 95) if requests else None
    return LiveStats(
        elapsed_s=elapsed_s,
        planned_s=config.duration_s,
        rps=requests / max(len(recent), 1),
        p95_ms=p95,
        error_rate=errors / requests if requests else 0.0,
        total=int(live.get("total_requests", 0)),
        client_error_rate=client_errors / requests if requests else 0.0,
    )


def run_load(
    config: LoadConfig,
    run_dir: Path,
    *,
    on_tick: Callable[[LiveStats], None],
    stack: StackSettings | None = None,
    sidecar: Sidecar | None = None,
    facts_extra: dict[str, Any] | None = None,
) -> RunRecord:
    """Run the load to its end (or Ctrl-C); return the completed run.json. `facts_extra`:
    more RunRecord fields (e.g. {"experiment": "experiments/redis-down.json"})."""
    files = RunDir(run_dir)
    if stack is not None and config.metrics_port is None:  # where the stack's Prometheus looks
        config = config.model_copy(
            update={"metrics_host": stack.host, "metrics_port": stack.harness_metrics_port}
        )
    fields: dict[str, Any] = {
        "run_id": run_dir.name,
        "scenario": config.scenario,
        "shape": config.shape,
        "model": config.model,
        "target_rps": config.target_rps,
        "users": config.users,
        "spawn_rate": config.spawn_rate,
        "duration_s": config.duration_s,
        "workers": config.workers,
        "seed": config.seed,
        "target_url": config.target_url,
        "via_proxy": stack is not None and config.target_url.endswith(f":{stack.api_proxy_port}"),
        "started_at": iso(time.time()),
        "git_sha": facts.git_sha(),
        "versions": facts.versions(),
        "host": facts.host(),
        "status": "running",
        **(facts_extra or {}),
    }
    record = RunRecord.model_validate(fields)
    files.write_run_record(record)
    processes = start_locust(config, run_dir)
    master = processes[0]
    started = time.monotonic()
    # Locust's wait for the workers to connect, then the open model's for them to be ready
    waits_s = 2 * config.ready_timeout_s if config.workers else 0.0
    deadline = started + waits_s + config.duration_s + 60.0
    interrupted = False
    stopped_early: str | None = None
    # A CI job being cancelled sends SIGTERM: stop as cleanly as on Ctrl-C.
    previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        while master.poll() is None:
            if time.monotonic() > deadline:
                raise RunFailed(
                    "Locust did not stop within 60 s of the planned end", run_dir=run_dir
                )
            # on the load's clock, which starts once every worker is ready (before it,
            # nothing beside the load is due)
            load_start = files.load_start_epoch()
            elapsed = time.time() - load_start if load_start is not None else 0.0
            if sidecar is not None and load_start is not None:
                sidecar.tick(elapsed)
                stopped_early = sidecar.stop_reason()
                if stopped_early is not None or sidecar.load_complete(elapsed):
                    break
            on_tick(read_live(run_dir, config, elapsed))
            time.sleep(0.5)
    except KeyboardInterrupt:
        interrupted = True
        if sidecar is not None:
            sidecar.interrupt()
    finally:
        _stop_all(processes)
        signal.signal(signal.SIGTERM, previous)
        files.load_config_json.unlink(missing_ok=True)  # it holds the tenants' tokens
    generator = files.load_generator_report()
    record = record.model_copy(
        update={
            "ended_at": iso(time.time()),
            "generator": generator.info() if generator is not None else None,
            "status": "interrupted"
            if interrupted
            else ("completed" if generator is not None else "failed"),
            "stopped_early": stopped_early,
            "error": None if generator is not None else _why_no_results(run_dir),
        }
    )
    files.write_run_record(record)
    if record.status == "failed":
        raise RunFailed(f"the load generator failed: {record.error}", run_dir=run_dir)
    return record


def _why_no_results(run_dir: Path) -> str:
    """The master wrote no generator.json. If it was still waiting for its workers (its
    live.json says `waiting`), Locust gave up on those that never connected: say so,
    they were never lost."""
    try:
        waiting = json.loads((run_dir / "live.json").read_text())["waiting"]
        expected, connected = int(waiting["expected"]), int(waiting["connected"])
        timeout_s = float(waiting["timeout_s"])
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return "the Locust master wrote no results; see locust/*.log"
    if connected < expected:
        return (
            f"{expected - connected} of {expected} worker(s) never connected to the Locust "
            f"master within {timeout_s:.0f} s, so the load never started; see locust/worker-*.log"
        )
    return "the Locust master wrote no results while waiting for its workers; see locust/*.log"


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop_all(processes: list[subprocess.Popen[bytes]]) -> None:
    """The master first, then the workers. SIGINT, not SIGTERM: Locust's gevent
    SIGTERM handler did not run here (the process died without writing its
    results), while SIGINT takes its KeyboardInterrupt path, which collects the
    workers' last reports and writes everything. SIGKILL what is left after 30 s."""
    for proc in processes:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
        try:
            proc.wait(timeout=30.0)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
