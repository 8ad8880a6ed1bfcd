from __future__ import annotations

from gameday.load.config import LoadConfig


def closed_params(config: LoadConfig) -> tuple[int, float]:
    users = config.users or 10
    return users, config.spawn_rate or float(users)


def target(config: LoadConfig) -> float:
    return config.target_rps or 10.0
