"""Steady load held for a long time (hours) to surface leaks and drift."""

from __future__ import annotations

from gameday.load.config import LoadConfig
from gameday.load.shapes import steady


def users(t_s: float, config: LoadConfig) -> tuple[int, float] | None:
    return steady.users(t_s, config)
