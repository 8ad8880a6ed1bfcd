"""Open model: `step_count` equal rate steps up to `target_rps`."""

from __future__ import annotations

from gameday.load.config import LoadConfig
from gameday.load.shapes._common import target


def rate(t_s: float, config: LoadConfig) -> float | None:
    if t_s >= config.duration_s:
        return None
    step_s = config.duration_s / config.step_count
    index = min(int(t_s // step_s), config.step_count - 1) + 1
    return target(config) * index / config.step_count
