"""`users` as a baseline, multiplied by `spike_factor` from 40% to 60% of the run."""

from __future__ import annotations

from gameday.load.config import LoadConfig
from gameday.load.shapes._common import closed_params


def users(t_s: float, config: LoadConfig) -> tuple[int, float] | None:
    if t_s >= config.duration_s:
        return None
    base, spawn_rate = closed_params(config)
    in_spike = 0.4 * config.duration_s <= t_s < 0.6 * config.duration_s
    if in_spike:
        # a spike arrives at once: spawn the extra users within a second
        return round(base * config.spike_factor), max(spawn_rate, base * config.spike_factor)
    return base, max(spawn_rate, base * config.spike_factor)
