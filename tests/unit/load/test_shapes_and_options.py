from __future__ import annotations

import pytest

from gameday.errors import ConfigError
from gameday.load import engine
from gameday.load.config import LoadConfig
from gameday.load.shapes import CLOSED, OPEN
from gameday.timespan import parse_timespan


@pytest.mark.parametrize(
    ("shape", "at", "expected_users"),
    [
        ("steady", [0, 50, 99], [10, 10, 10]),
        ("ramp", [0, 40, 80, 99], [1, 5, 10, 10]),
        ("step", [0, 25, 50, 75], [3, 5, 8, 10]),
        ("spike", [10, 45, 70], [10, 40, 10]),
        ("diurnal", [0, 50], [1, 10]),
    ],
    ids=["steady", "ramp", "step", "spike", "diurnal"],
)
def test_closed_shapes_plan_the_users_at_the_planned_times(
    shape: str, at: list[float], expected_users: list[int]
) -> None:
    config = LoadConfig(shape=shape, users=10, duration_s=100)
    planned = [CLOSED[shape](t, config) for t in at]
    assert [p[0] for p in planned if p] == expected_users
    assert CLOSED[shape](100, config) is None


def test_open_shapes_plan_the_arrival_rate_and_end_on_time() -> None:
    config = LoadConfig(shape="stepped-rate", target_rps=100, duration_s=40, step_count=4)
    assert [OPEN["stepped-rate"](t, config) for t in (0, 10, 20, 39)] == [25, 50, 75, 100]
    assert OPEN["constant-rate"](39.9, config) == 100
    assert OPEN["constant-rate"](40, config) is None


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("30s", 30.0), ("5m", 300.0), ("1h30m", 5400.0), ("250ms", 0.25)],
)
def test_durations_parse_in_human_units(text: str, seconds: float) -> None:
    assert parse_timespan(text) == seconds


def test_a_bad_duration_lists_the_valid_forms() -> None:
    with pytest.raises(ConfigError, match=r"invalid --duration '5 minutes'.*1h30m"):
        parse_timespan("5 minutes", what="--duration")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (LoadConfig(shape="sawtooth", users=1), "unknown shape 'sawtooth'"),
        (LoadConfig(shape="constant-rate"), "give --rate"),
        (LoadConfig(shape="steady"), "give --users"),
    ],
    ids=["shape", "open-without-rate", "closed-without-users"],
)
def test_bad_run_options_are_named_before_anything_starts(config: LoadConfig, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        engine.validate(config)


def test_the_mix_name_is_not_the_engines_to_judge() -> None:
    """Any profile's mix names are valid here: the plan checks them against the profile."""
    engine.validate(LoadConfig(scenario="browse", mix={"Reader": 1}, users=1))
    engine.validate(LoadConfig(scenario="browse", users=1))
