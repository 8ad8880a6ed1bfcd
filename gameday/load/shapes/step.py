"""`step_count` equal steps up to `users`, each held for an equal share of the run."""

from __future__ import annotations

import math

from gameday.load.config import LoadConfig
from gameday.load.shapes._common import closed_params


def users(t_s: float, config: LoadConfig) -> tuple[int, float] | None:
    if t_s >= config.duration_s:
        return None
    peak, spawn_rate = closed_params(config)
    step_s = config.duration_s / config.step_count
    index = min(int(t_s // step_s), config.step_count - 1) + 1
    return max(1, math.ceil(peak * index / config.step_count)), spawn_rate
