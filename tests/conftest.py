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


def _progress(line: str) -> None:
    sys.stderr.write(f"[stack] {line}\n")


@pytest.fixture(scope="session")
def stack() -> Iterator[StackSettings]:
    settings = StackSettings()
    # Reuse what runs; start the rest; at the end stop only what this session started
    # (another session may be using the components it found running).
    already = {s.name for s in supervisor.status(settings) if s.pid is not None}
    supervisor.up(settings, _progress)
    settings = supervisor.recorded_settings(settings)
    yield settings
    started = [s.name for s in supervisor.status(settings) if s.name not in already]
    if started and not os.environ.get("GAMEDAY_KEEP_STACK"):
        supervisor.down(settings, _progress, only=started)
