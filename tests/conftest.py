"""Shared fixtures. `stack` brings the real local stack up once per session,
reusing a healthy running one, and stops it at the end only if it started it."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

from gameday.settings import StackSettings
from gameday.stack import supervisor


def _progress(line: str) -> None:
    sys.stderr.write(f"[stack] {line}\n")


@pytest.fixture(scope="session")
def stack() -> Iterator[StackSettings]:
    settings = StackSettings()
    running = supervisor.status(settings)
    reuse = bool(running) and all(s.healthy for s in running)
    if not reuse:
        supervisor.up(settings, _progress)
    settings = supervisor.recorded_settings(settings)
    yield settings
    if not reuse and not os.environ.get("GAMEDAY_KEEP_STACK"):
        supervisor.down(settings, _progress)
