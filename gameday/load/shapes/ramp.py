"""Users grow linearly from 1 to `users` over the first 80% of the run, then hold."""

from __future__ import annotations

import math

from gameday.load.config import LoadConfig
from gameday.load.shapes._common import closed_params


def users(t_s: float, config: LoadConfig) -> tuple[int, float] | None:
    if t_s >= config.duration_s:
        return None
    peak, spawn_rate = closed_params(config)
    ramp_s = 0.8 * config.duration_s
    count = peak if t_s >= ramp_s else max(1, math.ceil(peak * t_s / ramp_s))
    return count, spawn_rate
