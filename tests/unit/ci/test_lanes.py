"""`make test`'s three sessions (tests/lanes.py): together they run every test exactly
once, and the private lane, which runs beside the chaos tests, refuses a test that goes
through the session stack's proxies."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

from tests.lanes import CLUSTER, PRIVATE, ROOT, _ignoring


def _collected(*args: str, lane: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GAMEDAY_TEST_LANE"}
    if lane:
        env["GAMEDAY_TEST_LANE"] = lane
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:randomly", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _node_ids(result: subprocess.CompletedProcess[str]) -> Counter[str]:
    assert result.returncode == 0, result.stdout + result.stderr
    return Counter(line for line in result.stdout.splitlines() if "::" in line)


def test_the_three_sessions_run_every_test_exactly_once() -> None:
    everything = _node_ids(_collected("tests"))
    sessions = (
        _node_ids(_collected(*CLUSTER)),
        _node_ids(_collected(*PRIVATE, lane="private")),
        _node_ids(_collected("tests", *_ignoring(CLUSTER + PRIVATE))),
    )
    assert all(sessions), [len(s) for s in sessions]  # none of them collects nothing
    assert sum(sessions, Counter()) == everything


def test_the_private_lane_refuses_a_test_on_the_session_stacks_proxies() -> None:
    result = _collected("tests/integration/chaos/test_safeguard.py", lane="private")
    assert result.returncode != 0
    assert "uses the session stack's proxies" in result.stdout + result.stderr
    assert "PRIVATE in tests/lanes.py" in result.stdout + result.stderr
