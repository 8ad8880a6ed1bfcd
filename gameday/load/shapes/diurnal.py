"""A compressed day: night-time trough at 10% of `users`, midday peak at 100%."""

from __future__ import annotations

import math

from gameday.load.config import LoadConfig
from gameday.load.shapes._common import closed_params

TROUGH = 0.1


def users(t_s: float, config: LoadConfig) -> tuple[int, float] | None:
    if t_s >= config.duration_s:
        return None
    peak, spawn_rate = closed_params(config)
    day_fraction = t_s / config.duration_s
    level = TROUGH + (1 - TROUGH) * (1 - math.cos(2 * math.pi * day_fraction)) / 2
    return max(1, round(peak * level)), spawn_rate
