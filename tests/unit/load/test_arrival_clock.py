"""The open model's schedule: exactly rate x duration arrivals, evenly spaced."""

from __future__ import annotations

import pytest

from gameday.load.arrival_clock import ArrivalClock
from gameday.load.config import LoadConfig
from gameday.load.shapes import OPEN


def _all(clock: ArrivalClock) -> list[float]:
    starts = []
    while (at_s := clock.next_s()) is not None:
        starts.append(at_s)
        assert len(starts) < 100_000, "the schedule never ends"
    return starts


@pytest.mark.parametrize(
    ("rate", "duration_s", "processes"),
    [(40, 12, 1), (40, 12, 2), (7, 10, 1), (1000, 3, 4), (3, 10, 3)],
    ids=["40x12", "40x12-2-processes", "7x10", "1000x3-4-processes", "3x10-3-processes"],
)
def test_a_constant_rate_plans_exactly_rate_times_duration_arrivals(
    rate: float, duration_s: float, processes: int
) -> None:
    config = LoadConfig(shape="constant-rate", target_rps=rate, duration_s=duration_s)
    per_process = [
        _all(ArrivalClock(lambda t: OPEN["constant-rate"](t, config), processes=processes))
        for _ in range(processes)
    ]
    assert sum(map(len, per_process)) == rate * duration_s


def test_arrivals_are_evenly_spaced_from_the_start() -> None:
    config = LoadConfig(shape="constant-rate", target_rps=20, duration_s=1)
    starts = _all(ArrivalClock(lambda t: OPEN["constant-rate"](t, config)))
    assert starts == pytest.approx([i / 20 for i in range(20)])


def test_a_stepped_rate_plans_each_step_at_its_own_rate() -> None:
    config = LoadConfig(shape="stepped-rate", target_rps=40, duration_s=8, step_count=4)
    starts = _all(ArrivalClock(lambda t: OPEN["stepped-rate"](t, config)))
    per_step = [sum(1 for s in starts if 2 * i <= s < 2 * (i + 1)) for i in range(4)]
    assert per_step == [20, 40, 60, 80]


def test_a_stretch_with_no_rate_plans_no_arrival_and_the_schedule_goes_on() -> None:
    def rate(t_s: float) -> float | None:
        if t_s >= 3:
            return None
        return 0.0 if t_s < 1 else 10.0

    starts = _all(ArrivalClock(rate))
    assert len(starts) == 20 and min(starts) >= 1.0
