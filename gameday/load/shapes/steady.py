"""A constant number of users for the whole run."""

from __future__ import annotations

from gameday.load.config import LoadConfig
from gameday.load.shapes._common import closed_params


def users(t_s: float, config: LoadConfig) -> tuple[int, float] | None:
    if t_s >= config.duration_s:
        return None
    return closed_params(config)
