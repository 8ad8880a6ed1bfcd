"""Human units in the SLO file: durations (`30s`, `5m`, `1h30m`) and latency
thresholds (`500ms`, `1.5s`, or a bare number of milliseconds).

    parse_duration_s("1h30m")   # 5400.0
    parse_latency_ms("1.5s")    # 1500.0
    parse_latency_ms(250)       # 250.0
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, WithJsonSchema

from gameday.errors import ConfigError
from gameday.timespan import parse_timespan

DURATION_FORMS = "a number of seconds or units h, m, s, ms: 90, 30s, 5m, 1h30m, 250ms"
LATENCY_FORMS = "a number of milliseconds or a duration: 500, 500ms, 1.5s"
_DURATION_PATTERN = r"^\s*(\d+(\.\d+)?)?((\d+(\.\d+)?)(h|m|s|ms))*\s*$"


def parse_duration_s(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a duration ({DURATION_FORMS}), not {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = parse_timespan(value)
        except ConfigError:
            raise ValueError(f"invalid duration {value!r}; valid forms: {DURATION_FORMS}") from None
    else:
        raise ValueError(f"expected a duration ({DURATION_FORMS}), not {value!r}")
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative: {value!r}")
    return seconds


def parse_latency_ms(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a latency ({LATENCY_FORMS}), not {value!r}")
    if isinstance(value, int | float):
        latency_ms = float(value)
    elif isinstance(value, str):
        try:
            latency_ms = parse_timespan(value) * 1000.0
        except ConfigError:
            raise ValueError(f"invalid latency {value!r}; valid forms: {LATENCY_FORMS}") from None
        if value.strip().replace(".", "", 1).isdigit():
            latency_ms = float(value)  # a bare number is milliseconds here, not seconds
    else:
        raise ValueError(f"expected a latency ({LATENCY_FORMS}), not {value!r}")
    if latency_ms <= 0:
        raise ValueError(f"a latency threshold must be positive: {value!r}")
    return latency_ms


DurationS = Annotated[
    float,
    BeforeValidator(parse_duration_s),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": _DURATION_PATTERN},
            ],
            "description": f"duration: {DURATION_FORMS}",
        }
    ),
]
LatencyMs = Annotated[
    float,
    BeforeValidator(parse_latency_ms),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0},
                {"type": "string", "pattern": _DURATION_PATTERN},
            ],
            "description": f"latency threshold: {LATENCY_FORMS}",
        }
    ),
]
