"""Open model: a constant arrival rate, whatever the response times."""

from __future__ import annotations

from gameday.load.config import LoadConfig
from gameday.load.shapes._common import target


def rate(t_s: float, config: LoadConfig) -> float | None:
    if t_s >= config.duration_s:
        return None
    return target(config)
