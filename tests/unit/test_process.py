from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

from gameday.stack import process


def test_a_spawned_process_is_tracked_and_stopped_with_its_whole_group(tmp_path: Path) -> None:
    # The child starts a grandchild in the same group: stop() must take both.
    script = "import subprocess, time; subprocess.Popen(['sleep', '60']); time.sleep(60)"
    tracked = process.spawn(
        "sleeper",
        [sys.executable, "-c", script],
        run_dir=tmp_path / "run",
        log_path=tmp_path / "sleeper.log",
    )
    assert process.read_tracked(tmp_path / "run", "sleeper") == tracked
    assert tracked.is_alive()
    members: list[int] = []
    for _ in range(100):  # wait up to 5 s for the grandchild to appear
        members = process.group_members(tracked.pid)
        if len(members) >= 2:
            break
        time.sleep(0.05)
    assert len(members) >= 2
    process.stop(tracked, sig=signal.SIGTERM, timeout_s=5)
    assert not tracked.is_alive()
    assert process.group_members(tracked.pid) == []


def test_a_recycled_pid_is_not_mistaken_for_ours() -> None:
    mine = process.Tracked(name="x", pid=os.getpid(), start_ticks=1)
    assert not mine.is_alive()


def test_a_missing_or_corrupt_pid_file_reads_as_not_started(tmp_path: Path) -> None:
    assert process.read_tracked(tmp_path, "nothing") is None
    (tmp_path / "bad.pid").write_text("not json")
    assert process.read_tracked(tmp_path, "bad") is None
