"""Load shapes, one per module, as pure functions of elapsed time.

A closed shape answers `users(t_s, config) -> (users, spawn_rate) | None`;
an open shape answers `rate(t_s, config) -> requests per second | None`.
None means the run is over.
"""

from __future__ import annotations

from collections.abc import Callable

from gameday.load.config import LoadConfig
from gameday.load.shapes import (
    constant_rate,
    diurnal,
    ramp,
    soak,
    spike,
    steady,
    step,
    stepped_rate,
)

ClosedShape = Callable[[float, LoadConfig], tuple[int, float] | None]
OpenShape = Callable[[float, LoadConfig], float | None]

CLOSED: dict[str, ClosedShape] = {
    "steady": steady.users,
    "ramp": ramp.users,
    "step": step.users,
    "spike": spike.users,
    "soak": soak.users,
    "diurnal": diurnal.users,
}
OPEN: dict[str, OpenShape] = {
    "constant-rate": constant_rate.rate,
    "stepped-rate": stepped_rate.rate,
}
