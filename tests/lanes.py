"""`make test`: the whole suite as three pytest sessions on one stack, two of them at
once, so that it fits CI's time on two cores (most integration tests wait on a timeline,
not on the CPU).

    python -m tests.lanes            # what `make test` runs; exit: the first failing session's

1. **The cluster modules** (three search nodes; three brokers), alone: they stop the
   session stack's OpenSearch or RabbitMQ while they run (issue 19), and they are the
   heaviest.
2. Then two sessions at once:
   - **the session lane**: every test that goes through the session stack's proxies or
     its processes, one at a time as ever, because the chaos tests break those on purpose;
   - **the private lane** (PRIVATE): tests that use no proxy of the session stack: the
     unit tests, the end-to-end tests (servers of their own), the load tests on cheap
     targets, the private stack's lifecycle, and the private-stack modules, whose
     service and harness reach the session's Redis, RabbitMQ, OpenSearch and PostgreSQL
     straight (tests/integration/session_servers.py). A test there that asks for
     `stack` itself is refused at collection (tests/conftest.py). A new module goes to
     the session lane unless it is listed here.

This script starts the stack (or reuses a running one) and stops at the end what it
started, as the `stack` fixture does for a plain `pytest`; the sessions share it and
neither starts nor stops anything (GAMEDAY_TEST_SHARED_STACK). Each lane gets half of
the test port range (tests/ports.py); the private lane's `gameday run`s serve no live
metrics endpoint, so the session stack's Prometheus scrapes only the session lane's.
The session lane prints as it goes; the private lane writes to a log, printed when it
ends. Each session prints its own random seed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from gameday.settings import StackSettings
from gameday.stack import supervisor

ROOT = Path(__file__).resolve().parents[1]
PYTEST = [sys.executable, "-m", "pytest"]

CLUSTER = (
    "tests/integration/stack/test_search_cluster.py",
    "tests/integration/stack/test_rabbitmq_cluster.py",
)
PRIVATE = (
    "tests/unit",
    "tests/e2e",
    "tests/integration/capacity",
    "tests/integration/load/test_busy_on_start.py",
    "tests/integration/load/test_distributed.py",
    "tests/integration/load/test_foreign_locustfile.py",
    "tests/integration/load/test_generator_validity.py",
    "tests/integration/load/test_live_metrics_endpoint.py",
    "tests/integration/stack/test_stack_lifecycle.py",
    "tests/integration/stack/test_pg_replica.py",
    "tests/integration/stack/test_pgbouncer.py",
    "tests/integration/stack/test_redis_sentinel.py",
    "tests/integration/stack/test_restore_drill.py",
)
SHARED = {"GAMEDAY_TEST_SHARED_STACK": "1"}
SESSION_LANE_ENV = {**SHARED, "GAMEDAY_TEST_PORTS": "25000-25499"}
PRIVATE_LANE_ENV = {
    **SHARED,
    "GAMEDAY_TEST_PORTS": "25500-25999",
    "GAMEDAY_TEST_LANE": "private",
    "GAMEDAY_HARNESS_METRICS_PORT": "0",
}


def _say(line: str) -> None:
    sys.stderr.write(f"[lanes] {line}\n")
    sys.stderr.flush()


def _ignoring(paths: Sequence[str]) -> list[str]:
    return [f"--ignore={path}" for path in paths]


_sessions: list[subprocess.Popen[bytes]] = []


def _start(
    args: list[str], env: dict[str, str], log: Path | None = None
) -> subprocess.Popen[bytes]:
    out = open(log, "wb") if log is not None else None  # noqa: SIM115 - closed with the process
    session = subprocess.Popen(
        [*PYTEST, *args],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=out,
        stderr=subprocess.STDOUT if out else None,
    )
    _sessions.append(session)
    return session


def _run_phases(logs: Path) -> list[int]:
    started = time.monotonic()
    _say(f"1/2 the cluster modules, alone: {' '.join(CLUSTER)}")
    cluster = _start(list(CLUSTER), SHARED).wait()
    _say(f"1/2 done in {time.monotonic() - started:.0f} s, exit {cluster}")

    started = time.monotonic()
    log = logs / "private-lane.log"
    _say(f"2/2 the private lane ({len(PRIVATE)} paths, output in {log}) beside the session lane")
    private = _start(list(PRIVATE), PRIVATE_LANE_ENV, log)
    session = _start(["tests", *_ignoring(CLUSTER + PRIVATE)], SESSION_LANE_ENV).wait()
    _say(f"2/2 the session lane done in {time.monotonic() - started:.0f} s, exit {session}")
    private_code = private.wait()
    _say(f"2/2 the private lane done in {time.monotonic() - started:.0f} s, exit {private_code}")
    _say(f"---- the private lane's output ({log}) ----")
    sys.stderr.write(log.read_text(errors="replace"))
    _say("---- end of the private lane's output ----")
    return [cluster, session, private_code]


def main() -> int:
    settings = StackSettings()
    already = {s.name for s in supervisor.status(settings) if s.pid is not None}
    supervisor.up(settings, lambda line: _say(f"[stack] {line}"))
    try:
        with tempfile.TemporaryDirectory(prefix="gameday-lanes-") as logs:
            codes = _run_phases(Path(logs))
    except KeyboardInterrupt:  # the sessions had the Ctrl-C too: let them clean up first
        for session in _sessions:
            session.wait(timeout=120)
        return 130
    finally:
        started = [s.name for s in supervisor.status(settings) if s.name not in already]
        if started and not os.environ.get("GAMEDAY_KEEP_STACK"):
            supervisor.down(settings, lambda line: _say(f"[stack] {line}"), only=started)
    failed = [code for code in codes if code != 0]
    _say("all three sessions passed" if not failed else f"exit codes {codes}: failed")
    return failed[0] if failed else 0


if __name__ == "__main__":
    sys.exit(main())
