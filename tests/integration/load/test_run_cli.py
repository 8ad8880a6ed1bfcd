"""`gameday run` as a user meets it: bad input, and Ctrl-C mid-run."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from gameday.stack import process
from tests.integration.own_service import (
    ROOT,
    RunningService,
    assert_report_agrees,
    gameday_run,
    interruptible,
    seconds_with_requests,
)
from tests.integration.service.service_helpers import wait_for


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenario", "serch_mix", "--rate", "5"], "unknown scenario 'serch_mix'"),
        (["--shape", "sawtooth", "--users", "2"], "unknown shape 'sawtooth'"),
        (["--rate", "5", "--duration", "5 minutes"], "invalid --duration '5 minutes'"),
        (["--shape", "steady"], "give --users"),
        (["--rate", "5", "--target", "http://127.0.0.1:1"], "is not answering"),
    ],
    ids=["scenario", "shape", "duration", "closed-without-users", "service-down"],
)
def test_bad_input_is_one_line_naming_the_fix_with_exit_2(
    args: list[str], message: str, tmp_path: Path
) -> None:
    result = gameday_run(*args, "--out", str(tmp_path / "run"), timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not (tmp_path / "run").exists(), "nothing may start before the input is checked"


def _sigint_ignored() -> None:
    """How a background job (`cmd &` in a script, some CI runners) starts: SIGINT ignored,
    and children inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize(
    ("stop", "preexec"),
    [(signal.SIGINT, interruptible), (signal.SIGTERM, _sigint_ignored)],
    ids=["ctrl-c", "ci-cancel-with-sigint-ignored"],
)
def test_ctrl_c_stops_cleanly_flushes_the_data_and_leaves_no_locust_process(
    own_service: RunningService, tmp_path: Path, stop: signal.Signals, preexec: Any
) -> None:
    """Locust is stopped with SIGINT either way; it must take it even when it was
    started with SIGINT ignored, or it is killed after 30 s and its results are lost."""
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gameday.cli",
            "run",
            "--scenario",
            "read_only",
            "--rate",
            "20",
            "--duration",
            "2m",
            "--workers",
            "1",
            "--target",
            own_service.url,
            "--out",
            str(out),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=preexec,
    )
    try:  # mid-run: once the load has run a few whole seconds (live.json, every second)
        wait_for(
            lambda: seconds_with_requests(out) >= 3,
            timeout_s=60,
            what=f"3 seconds with requests in {out / 'live.json'}",
        )
    finally:  # stopped either way
        proc.send_signal(stop)
    stopping = time.monotonic()
    stdout, stderr = proc.communicate(timeout=90)
    assert proc.returncode == 130, stdout + stderr
    assert_report_agrees(stdout, proc.returncode)
    assert time.monotonic() - stopping < 25  # Locust took the SIGINT: no 30 s kill timer
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "interrupted"
    rows = (out / "timeseries.csv").read_text().splitlines()
    assert len(rows) > 3
    assert run["generator"]["total_requests"] > 0
    # every Locust process of this run carries the run dir in its environment
    left = [pid for pid in _pids() if str(out) in _environ(pid)]
    assert left == [], left


def _pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def _environ(pid: int) -> str:
    try:
        if not process.Tracked("x", pid, 0).is_alive() and _is_zombie(pid):
            return ""
        return Path(f"/proc/{pid}/environ").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def _is_zombie(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2] == "Z"
