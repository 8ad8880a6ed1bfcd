"""Process faults on stack components (Chaos Toolkit python providers):
SIGKILL, SIGTERM, SIGSTOP/SIGCONT of a component's process group or of one
service worker, restarts through the stack supervisor, and the promotion of the
PostgreSQL replica (`stack up --pg-replica`) after the primary is lost."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from gameday import stack
from gameday.chaos.events import record_event
from gameday.chaos.fault_rule import FaultRule
from gameday.errors import StackError
from gameday.settings import StackSettings

__all__ = [
    "continue_component",
    "kill_component",
    "kill_service_worker",
    "promote_replica",
    "restart_component",
    "stop_component",
]


def _tracked(component: str) -> stack.Tracked:
    settings = StackSettings()
    tracked = stack.read_tracked(settings.run_dir, component)
    if tracked is None or not tracked.is_alive():
        raise StackError(f"{component} is not running: start it with `gameday stack up`")
    return tracked


def _signal(component: str, sig: signal.Signals) -> int:
    tracked = _tracked(component)
    os.killpg(tracked.pid, sig)
    return tracked.pid


def kill_component(component: str, signal_name: str = "SIGKILL") -> str:
    """Signal the component's process group; the fault (`COMPONENT-killed`) lasts
    until `restart_component` brings it back."""
    sig = signal.Signals[signal_name]
    pid = _signal(component, sig)
    name = PROCESS_FAULTS["killed"].name(component=component)
    record_event(
        "fault_injected", name=name, target=component, fault=signal_name, attributes={"pid": pid}
    )
    return name


def stop_component(component: str) -> str:
    """Freeze (SIGSTOP) the whole process group: connections hang, nothing answers."""
    pid = _signal(component, signal.SIGSTOP)
    name = PROCESS_FAULTS["frozen"].name(component=component)
    record_event(
        "fault_injected", name=name, target=component, fault="SIGSTOP", attributes={"pid": pid}
    )
    return name


def continue_component(component: str) -> None:
    _signal(component, signal.SIGCONT)
    record_event(
        "fault_removed", name=PROCESS_FAULTS["frozen"].name(component=component), target=component
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


def kill_service_worker(signal_name: str = "SIGKILL", index: int = 0) -> str:
    workers = service_workers()
    if not workers:
        raise StackError("the service has no worker processes (is it running with --workers?)")
    pid = workers[index % len(workers)]
    os.kill(pid, signal.Signals[signal_name])
    name = PROCESS_FAULTS["worker_killed"].name(pid=pid, signal=signal_name.lower())
    record_event(
        "fault_injected", name=name, target="service", fault=signal_name, attributes={"pid": pid}
    )
    return name


def restart_component(component: str) -> None:
    """Start the component again if it is down (idempotent, like `stack up`); this
    ends the `COMPONENT-killed` fault of `kill_component` on the timeline."""
    stack.up(StackSettings(), lambda line: None, only=[component])
    record_event(
        "fault_removed", name=PROCESS_FAULTS["killed"].name(component=component), target=component
    )


def promote_replica() -> float:
    """Promote the streaming replica; return the seconds until it accepted a write.
    Recorded as a `replica_promoted` event (not a fault: the failover is the remedy)."""
    took_s = stack.promote_replica(StackSettings(), lambda line: None)
    record_event(
        "replica_promoted", name="postgres-replica-promoted", target="postgres-replica",
        attributes={"took_s": round(took_s, 3)},
    )  # fmt: skip
    return took_s


# Each process fault, declared once: its provider and the rule its name follows.
# kill_component's fault lasts until restart_component, stop_component's until
# continue_component; a worker's pid is known once it is killed. None is one of the
# matrix's faults (the matrix faults the network).
PROCESS_FAULTS: dict[str, FaultRule] = {
    "killed": FaultRule(kill_component, "{component}-killed"),
    "frozen": FaultRule(stop_component, "{component}-frozen"),
    "worker_killed": FaultRule(kill_service_worker, "service-worker-{pid}-{signal}"),
}
