"""Before the run's clock starts (every worker ready), the master's live.json says how
far the wait is (`waiting`), and the engine shows it as the progress line; when the
master gave up on workers that never connected, the run says so, not "lost"."""

from __future__ import annotations

import json
from pathlib import Path

from gameday.load.config import LoadConfig
from gameday.load.engine import _why_no_results, read_live

WAITING = {"expected": 32, "connected": 32, "ready": 30, "waited_s": 4.2, "timeout_s": 60.0}


def test_the_progress_line_shows_how_many_workers_are_ready(tmp_path: Path) -> None:
    (tmp_path / "live.json").write_text(json.dumps({"waiting": WAITING}))
    live = read_live(tmp_path, LoadConfig(target_rps=320, shape="constant-rate"), 0.0)
    assert live.describe() == (
        "waiting for workers: 30 of 32 ready, 32 connected (4 s of at most 60 s)"
    )
    assert live.total == 0


def test_workers_that_never_connected_are_the_runs_error(tmp_path: Path) -> None:
    waiting = {**WAITING, "connected": 29, "ready": 0}
    (tmp_path / "live.json").write_text(json.dumps({"waiting": waiting}))
    assert _why_no_results(tmp_path).startswith(
        "3 of 32 worker(s) never connected to the Locust master within 60 s"
    )


def test_without_a_waiting_master_the_error_points_at_the_logs(tmp_path: Path) -> None:
    assert _why_no_results(tmp_path) == "the Locust master wrote no results; see locust/*.log"
