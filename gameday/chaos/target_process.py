"""A component's process as the target profile describes it (gameday.target.Process):
its pid from a pid file or from a command that prints it, signalled for kill and
freeze, and started again by the profile's `restart` command.

    process = profile.processes["worker"]
    pid = pid_of("worker", process)             # one line naming the file or command
    signal_process(pid, signal.SIGSTOP)          # its process group when it leads one
    restart("worker", process, timeout_s=30)     # waits for a live pid, bounded

`systemd_unit` is accepted by the profile but not acted on (no systemd here): a fault
on such a component says so in one line.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from gameday.errors import ConfigError, StackError
from gameday.target import Process

__all__ = ["is_alive", "pid_of", "restart", "signal_process"]

COMMAND_TIMEOUT_S = 10.0


def pid_of(component: str, process: Process) -> int:
    """The pid the profile names now (its pid file's, or its pid command's output)."""
    if process.pid_file is not None:
        try:
            text = Path(process.pid_file).read_text()
        except OSError as exc:
            raise StackError(
                f"{component}: cannot read its pid file {process.pid_file} ({exc.strerror}): "
                "is it running?"
            ) from None
        where = f"pid file {process.pid_file}"
    elif process.pid_command is not None:
        try:
            done = subprocess.run(
                process.pid_command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise StackError(
                f"{component}: pid command {process.pid_command} failed: {exc}"
            ) from None
        if done.returncode != 0:
            raise StackError(
                f"{component}: pid command {process.pid_command} exited {done.returncode}: "
                f"{done.stderr.strip()[:200]}"
            )
        text = done.stdout
        where = f"pid command {process.pid_command}"
    else:
        raise ConfigError(
            f"{component}: systemd_unit is accepted but not acted on (no systemd here); "
            "give pid_file or pid_command in the profile's processes"
        )
    first = text.strip().split()[0] if text.strip() else ""
    if not first.isdigit() or int(first) <= 1:
        raise StackError(f"{component}: {where} gave {text.strip()[:40]!r}, not a pid")
    return int(first)


def is_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def signal_process(pid: int, sig: signal.Signals) -> None:
    """Its whole process group when it leads one (a server's workers go with it), else
    the process alone."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        raise StackError(f"process {pid} is not running") from None


def restart(component: str, process: Process, *, log: Path, timeout_s: float = 30.0) -> int:
    """Run the profile's restart command (detached: it may be the server itself) and wait,
    bounded, until the profile's pid source names a live process; returns that pid."""
    if process.restart is None:
        raise ConfigError(
            f"{component}: the profile gives no restart command; add "
            f"processes.{component}.restart (e.g. [systemctl, start, {component}])"
        )
    with open(log, "ab") as out:
        started = subprocess.Popen(
            process.restart, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            pid = pid_of(component, process)
        except StackError:
            pid = None
        if pid is not None and is_alive(pid):
            # the command may be the server itself: reaped whenever it ends
            threading.Thread(target=started.wait, daemon=True).start()
            return pid
        code = started.poll()
        if code not in (None, 0):
            raise StackError(
                f"{component}: restart command {process.restart} exited {code} (see {log})"
            )
        if time.monotonic() > deadline:
            raise StackError(
                f"{component}: no live process {timeout_s:g} s after {process.restart} (see {log})"
            )
        time.sleep(0.2)
