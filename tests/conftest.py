"""Shared fixtures. `stack` brings the real local stack up once per session,
reusing a healthy running one, and stops it at the end only if it started it."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

from gameday.settings import StackSettings
from gameday.stack import supervisor

# Random module order (pytest-randomly), each module's tests in written order.
pytest_plugins = ["tests.random_order"]


# Set by tests/lanes.py (`make test`), which starts the stack, runs two pytest sessions on
# it at once and stops it: a session then neither starts nor stops anything, because
# `up` also re-creates proxies and warms the index, which would undo a fault the other
# session's chaos test holds.
SHARED_STACK = "GAMEDAY_TEST_SHARED_STACK"


def _shared(settings: StackSettings) -> StackSettings:
    # alive, not healthy: the other session may be holding a fault that fails a check
    down = [s.name for s in supervisor.status(settings) if s.pid is None]
    if down:
        pytest.fail(
            f"{SHARED_STACK}=1 but the stack's {', '.join(down)} is not running: "
            "start it with `gameday stack up`, or unset the variable",
            pytrace=False,
        )
    return supervisor.recorded_settings(settings)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The private lane runs beside the chaos tests, which break the session stack's
    proxies: a test there may reach the session's servers only straight."""
    if os.environ.get("GAMEDAY_TEST_LANE") != "private":
        return
    for item in items:
        names = getattr(item, "fixturenames", [])
        if "stack" in names and "session_servers" not in names:
            raise pytest.UsageError(
                f"{item.nodeid} uses the session stack's proxies, which the session lane's "
                "chaos tests break: take its module out of PRIVATE in tests/lanes.py, or "
                "reach the servers through the session_servers fixture"
            )


def _progress(line: str) -> None:
    sys.stderr.write(f"[stack] {line}\n")


@pytest.fixture(scope="session")
def stack() -> Iterator[StackSettings]:
    settings = StackSettings()
    if os.environ.get(SHARED_STACK) == "1":
        yield _shared(settings)
        return
    # Reuse what runs; start the rest; at the end stop only what this session started
    # (another session may be using the components it found running).
    already = {s.name for s in supervisor.status(settings) if s.pid is not None}
    supervisor.up(settings, _progress)
    settings = supervisor.recorded_settings(settings)
    yield settings
    started = [s.name for s in supervisor.status(settings) if s.name not in already]
    if started and not os.environ.get("GAMEDAY_KEEP_STACK"):
        supervisor.down(settings, _progress, only=started)
