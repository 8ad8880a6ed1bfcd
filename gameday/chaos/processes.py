"""Process faults (Chaos Toolkit python providers): SIGKILL, SIGTERM, SIGSTOP/SIGCONT
of a component's process (group) or of one service worker, restarts, and the promotion
of the PostgreSQL replica (`stack up --pg-replica`) after the primary is lost, and the
restore drill's base backup, destroyed data dir and restore (`stack up --wal-archive`).

A component the target profile names under `processes` (the `gameday_profile`
configuration key) is found by its pid file or pid command and started again by its
`restart` command (gameday.chaos.target_process); any other is a component of the local
stack (`gameday stack up`), found in its registry and restarted by its supervisor."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from gameday import stack
from gameday.chaos import target_process
from gameday.chaos.configuration import optional_profile_of
from gameday.chaos.events import Configuration, run_dir_of
from gameday.chaos.fault_rule import FaultRule
from gameday.errors import StackError
from gameday.rundir import (
    BackupTaken,
    DataRestored,
    FaultInjected,
    FaultRemoved,
    ReplicaPromoted,
)
from gameday.settings import StackSettings
from gameday.target import Process

__all__ = [
    "continue_component",
    "destroy_data",
    "kill_component",
    "kill_service_worker",
    "promote_replica",
    "restart_component",
    "restore_data",
    "stop_component",
    "take_backup",
]


def _tracked(component: str) -> stack.Tracked:
    settings = StackSettings()
    tracked = stack.read_tracked(settings.run_dir, component)
    if tracked is None or not tracked.is_alive():
        raise StackError(f"{component} is not running: start it with `gameday stack up`")
    return tracked


def _profile_process(component: str, configuration: Configuration | None) -> Process | None:
    """The profile's process of this component (a relative pid file read from the
    profile's folder), or None: a component of the local stack."""
    profile = optional_profile_of(configuration)
    process = None if profile is None else profile.processes.get(component)
    if process is not None and process.pid_file is not None and not process.pid_file.is_absolute():
        assert profile is not None
        process = process.model_copy(update={"pid_file": profile.folder / process.pid_file})
    return process


def _signal(component: str, sig: signal.Signals, configuration: Configuration | None = None) -> int:
    process = _profile_process(component, configuration)
    if process is not None:
        pid = target_process.pid_of(component, process)
        target_process.signal_process(pid, sig)
        return pid
    tracked = _tracked(component)
    os.killpg(tracked.pid, sig)
    return tracked.pid


def kill_component(
    component: str, signal_name: str = "SIGKILL", configuration: Configuration | None = None
) -> str:
    """Signal the component's process group; the fault (`COMPONENT-killed`) lasts
    until `restart_component` brings it back."""
    run_dir = run_dir_of(configuration)
    sig = signal.Signals[signal_name]
    pid = _signal(component, sig, configuration)
    name = PROCESS_FAULTS["killed"].name(component=component)
    run_dir.append_event(
        FaultInjected(name=name, target=component, fault=signal_name, attributes={"pid": pid})
    )
    return name


def stop_component(component: str, configuration: Configuration | None = None) -> str:
    """Freeze (SIGSTOP) the whole process group: connections hang, nothing answers."""
    run_dir = run_dir_of(configuration)
    pid = _signal(component, signal.SIGSTOP, configuration)
    name = PROCESS_FAULTS["frozen"].name(component=component)
    run_dir.append_event(
        FaultInjected(name=name, target=component, fault="SIGSTOP", attributes={"pid": pid})
    )
    return name


def continue_component(component: str, configuration: Configuration | None = None) -> None:
    run_dir = run_dir_of(configuration)
    _signal(component, signal.SIGCONT, configuration)
    run_dir.append_event(
        FaultRemoved(name=PROCESS_FAULTS["frozen"].name(component=component), target=component)
    )


def service_workers() -> list[int]:
    """The uvicorn worker processes: children of the service's master process that run
    a spawned worker. The master's other child, multiprocessing's resource tracker, is
    not a worker (killing it, as this once did, proves nothing and leaves a zombie)."""
    master = _tracked("service").pid
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            parent = int(stat[stat.rindex(")") + 2 :].split()[1])
            if parent == master and b"spawn_main" in cmdline:
                children.append(int(entry.name))
    return sorted(children)


def kill_service_worker(
    signal_name: str = "SIGKILL", index: int = 0, configuration: Configuration | None = None
) -> str:
    run_dir = run_dir_of(configuration)
    workers = service_workers()
    if not workers:
        raise StackError("the service has no worker processes (is it running with --workers?)")
    pid = workers[index % len(workers)]
    os.kill(pid, signal.Signals[signal_name])
    name = PROCESS_FAULTS["worker_killed"].name(pid=pid, signal=signal_name.lower())
    run_dir.append_event(
        FaultInjected(name=name, target="service", fault=signal_name, attributes={"pid": pid})
    )
    return name


def restart_component(component: str, configuration: Configuration | None = None) -> None:
    """Start the component again if it is down (idempotent, like `stack up`); this
    ends the `COMPONENT-killed` fault of `kill_component` on the timeline."""
    run_dir = run_dir_of(configuration)
    process = _profile_process(component, configuration)
    if process is not None:
        log = run_dir.path / f"restart-{component}.log"
        target_process.restart(component, process, log=log)
    else:
        stack.up(StackSettings(), lambda line: None, only=[component])
    run_dir.append_event(
        FaultRemoved(name=PROCESS_FAULTS["killed"].name(component=component), target=component)
    )


def promote_replica(configuration: Configuration | None = None) -> float:
    """Promote the streaming replica; return the seconds until it accepted a write.
    Recorded as a `replica_promoted` event (not a fault: the failover is the remedy)."""
    run_dir = run_dir_of(configuration)
    took_s = stack.promote_replica(StackSettings(), lambda line: None)
    run_dir.append_event(
        ReplicaPromoted(
            name="postgres-replica-promoted",
            target="postgres-replica",
            attributes={"took_s": round(took_s, 3)},
        )
    )
    return took_s


def take_backup(
    component: str = "postgres", configuration: Configuration | None = None
) -> dict[str, object]:
    """A base backup of the stack's PostgreSQL (`stack up --wal-archive`), recorded as a
    `backup_taken` event with its label and WAL range."""
    run_dir = run_dir_of(configuration)
    _only_postgres(component)
    started = time.monotonic()
    backup = stack.take_backup(StackSettings(), lambda line: None)
    attributes: dict[str, object] = {
        "label": backup.label,
        "start_lsn": backup.start_lsn,
        "end_lsn": backup.end_lsn,
        "took_s": round(time.monotonic() - started, 3),
    }
    run_dir.append_event(
        BackupTaken(name=f"{component}-base-backup", target=component, attributes=attributes)
    )
    return attributes


def destroy_data(component: str = "postgres", configuration: Configuration | None = None) -> str:
    """SIGKILL PostgreSQL and delete its data dir (the restore drill's fault, lasting until
    `restore_data`); the event keeps what pg_stat_archiver said just before."""
    run_dir = run_dir_of(configuration)
    _only_postgres(component)
    destroyed = stack.destroy_data(StackSettings())
    name = PROCESS_FAULTS["data_destroyed"].name(component=component)
    run_dir.append_event(
        FaultInjected(
            epoch=destroyed.killed_at,  # not once the data dir is gone: clients fail from here
            name=name,
            target=component,
            fault="data-destroyed",
            attributes={
                "pid": destroyed.pid,
                "lsn": destroyed.lsn,
                "last_archived_wal": destroyed.last_archived_wal,
                "last_archived_at": destroyed.last_archived_at,
            },
        )
    )
    return name


def restore_data(
    component: str = "postgres",
    only_if_destroyed: bool = False,
    configuration: Configuration | None = None,
) -> dict[str, object]:
    """Restore the latest base backup and replay the whole WAL archive, start PostgreSQL and
    wait until it accepts a write: ends `destroy_data`'s fault, and a `data_restored` event
    says from what and how long it took. `only_if_destroyed` (the rollback's): nothing to
    do while PostgreSQL runs."""
    run_dir = run_dir_of(configuration)
    _only_postgres(component)
    if only_if_destroyed:
        tracked = stack.read_tracked(StackSettings().run_dir, component)
        if tracked is not None and tracked.is_alive():
            return {}
    restored = stack.restore(StackSettings(), lambda line: None)
    attributes: dict[str, object] = {
        "backup": restored.backup.label,
        "last_archived_segment": restored.last_archived_segment,
        "lsn": restored.lsn,
        "took_s": restored.took_s,
    }
    run_dir.append_event(
        FaultRemoved(
            name=PROCESS_FAULTS["data_destroyed"].name(component=component), target=component
        )
    )
    run_dir.append_event(
        DataRestored(name=f"{component}-restored", target=component, attributes=attributes)
    )
    return attributes


def _only_postgres(component: str) -> None:
    if component != "postgres":
        raise StackError(f"backups and restores are PostgreSQL's only, not {component!r}")


# Each process fault, declared once: its provider and the rule its name follows.
# kill_component's fault lasts until restart_component, stop_component's until
# continue_component; a worker's pid is known once it is killed. None is one of the
# matrix's faults (the matrix faults the network).
PROCESS_FAULTS: dict[str, FaultRule] = {
    "killed": FaultRule(kill_component, "{component}-killed"),
    "frozen": FaultRule(stop_component, "{component}-frozen"),
    "worker_killed": FaultRule(kill_service_worker, "service-worker-{pid}-{signal}"),
    "data_destroyed": FaultRule(destroy_data, "{component}-data-destroyed"),
}
