"""Detached local processes tracked by pid files.

Each component runs in its own session (so its process group id equals its
pid) and is stopped through that group: children such as Erlang's helpers go
with their leader, and nothing is ever killed by name. A pid file records the
pid and the kernel's start time of the process, so a recycled pid is never
mistaken for ours.
"""

from __future__ import annotations

import json
import os
import pwd
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Tracked:
    """A process we started: what the pid file holds."""

    name: str
    pid: int
    start_ticks: int

    def is_alive(self) -> bool:
        stat = _read_stat(self.pid)
        return stat is not None and stat[1] == self.start_ticks and stat[0] != "Z"


def _read_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, start time in clock ticks, process group) of a pid, or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name may hold spaces and parentheses: split after the last ')'.
    fields = raw[raw.rindex(")") + 2 :].split()
    return fields[0], int(fields[19]), int(fields[2])


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) pids whose process group is `pgid`."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = _read_stat(int(entry.name))
        if stat is not None and stat[2] == pgid and stat[0] != "Z":
            members.append(int(entry.name))
    return members


def pid_file(run_dir: Path, name: str) -> Path:
    return run_dir / f"{name}.pid"


def read_tracked(run_dir: Path, name: str) -> Tracked | None:
    path = pid_file(run_dir, name)
    try:
        data = json.loads(path.read_text())
        return Tracked(name=name, pid=int(data["pid"]), start_ticks=int(data["start_ticks"]))
    except (FileNotFoundError, ValueError, KeyError):
        return None


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    run_dir: Path,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
    group: int | None = None,
) -> Tracked:
    """Start `argv` detached in its own session, logging to `log_path`."""
    run_dir.mkdir(parents=True, exist_ok=True)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    if user is not None:
        full_env["HOME"] = pwd.getpwnam(user).pw_dir
        full_env["USER"] = user
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=cwd,
            # Drop root's groups too: a process left in group root is denied by
            # group bits (e.g. 0701 dirs) that "others" would pass.
            user=user,
            group=pwd.getpwnam(user).pw_gid if user else group,
            extra_groups=[] if user or group is not None else None,
            start_new_session=True,
            close_fds=True,
        )
    stat = _read_stat(proc.pid)
    tracked = Tracked(name=name, pid=proc.pid, start_ticks=stat[1] if stat else 0)
    pid_file(run_dir, name).write_text(
        json.dumps({"pid": tracked.pid, "start_ticks": tracked.start_ticks, "argv": list(argv)})
        + "\n"
    )
    # The Popen object is dropped on purpose: the process outlives this one.
    # Python would warn about a still-running child, so detach it from the GC.
    proc.returncode = 0
    return tracked


def stop(tracked: Tracked, *, sig: int = signal.SIGTERM, timeout_s: float = 30.0) -> None:
    """Signal the process group, wait for every member to go, then SIGKILL."""
    if tracked.is_alive():
        _signal_group(tracked.pid, sig)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        _reap(tracked.pid)
        if not tracked.is_alive() and not group_members(tracked.pid):
            return
        time.sleep(0.1)
    _signal_group(tracked.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:
        _reap(tracked.pid)
        if not tracked.is_alive() and not group_members(tracked.pid):
            return
        time.sleep(0.1)


def forget(run_dir: Path, name: str) -> None:
    pid_file(run_dir, name).unlink(missing_ok=True)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _reap(pid: int) -> None:
    """Collect the exit status when the process is our own child (in tests)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
