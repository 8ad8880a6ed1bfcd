"""Process faults on a component the target profile names: found by its pid file or
its pid command, killed, frozen and thawed, started again by its restart command. Real
processes (`sleep`), no stack."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gameday.chaos import processes
from gameday.chaos.events import configuration_for
from gameday.errors import ConfigError, StackError


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def _wait_state(pid: int, wanted: set[str | None], timeout_s: float = 10.0) -> str | None:
    deadline = time.monotonic() + timeout_s
    while (state := _state(pid)) not in wanted and time.monotonic() < deadline:
        time.sleep(0.05)
    return state


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[Path]:
    """A `sleep` leading its own process group, its pid in worker.pid; the restart
    command starts another one the same way."""
    pid_file = tmp_path / "worker.pid"
    start = tmp_path / "start.sh"
    start.write_text(f"#!/bin/sh\nsetsid sleep 300 &\necho $! > {pid_file}\n")
    start.chmod(0o755)
    subprocess.run([str(start)], check=True)
    yield pid_file
    for path in (pid_file,):
        try:
            os.killpg(int(path.read_text()), signal.SIGKILL)
        except (OSError, ValueError):
            pass


def _configuration(tmp_path: Path, process: str) -> dict[str, str]:
    profile = tmp_path / "target.yaml"
    profile.write_text(
        "name: shop\nbase_url: http://127.0.0.1:25999\ntraffic: {locustfile: locustfile.py}\n"
        f"processes:\n  worker:\n{process}"
    )
    run_dir = tmp_path / "run"
    run_dir.mkdir(exist_ok=True)
    return configuration_for(run_dir, gameday_profile=str(profile))


def _events(tmp_path: Path) -> list[tuple[str, str]]:
    lines = (tmp_path / "run" / "events.jsonl").read_text().splitlines()
    return [(e["type"], e["name"]) for e in map(json.loads, lines)]


def test_a_pid_file_component_is_killed_and_restarted_by_its_command(
    tmp_path: Path, worker: Path
) -> None:
    configuration = _configuration(
        tmp_path, f"    pid_file: {worker.name}\n    restart: {tmp_path / 'start.sh'}\n"
    )  # a relative pid file is read from the profile's folder
    first = int(worker.read_text())
    processes.kill_component("worker", configuration=configuration)
    assert _wait_state(first, {None, "Z"}) in (None, "Z")

    processes.restart_component("worker", configuration=configuration)
    second = int(worker.read_text())
    assert second != first and _state(second) in ("S", "R")
    assert _events(tmp_path) == [
        ("fault_injected", "worker-killed"),
        ("fault_removed", "worker-killed"),
    ]


def test_a_pid_command_component_is_frozen_and_thawed(tmp_path: Path, worker: Path) -> None:
    configuration = _configuration(tmp_path, f"    pid_command: [cat, {worker}]\n")
    pid = int(worker.read_text())
    processes.stop_component("worker", configuration=configuration)
    assert _wait_state(pid, {"T"}) == "T"
    processes.continue_component("worker", configuration=configuration)
    assert _wait_state(pid, {"S", "R"}) in ("S", "R")
    assert _events(tmp_path) == [
        ("fault_injected", "worker-frozen"),
        ("fault_removed", "worker-frozen"),
    ]


def test_a_pid_command_that_fails_is_one_line_naming_it(tmp_path: Path) -> None:
    configuration = _configuration(tmp_path, f"    pid_command: [cat, {tmp_path / 'none'}]\n")
    with pytest.raises(StackError, match=r"worker: pid command .* exited 1") as raised:
        processes.kill_component("worker", configuration=configuration)
    assert "\n" not in str(raised.value)


def test_a_restart_without_a_command_says_what_to_add(tmp_path: Path, worker: Path) -> None:
    configuration = _configuration(tmp_path, f"    pid_file: {worker}\n")
    with pytest.raises(ConfigError, match=r"add processes.worker.restart"):
        processes.restart_component("worker", configuration=configuration)
