"""Human durations: `30s`, `5m`, `1h30m`, `90` (seconds), for the command line, suites
and the SLO file alike (a low-level module: it imports only gameday.errors).

parse_timespan("1h30m")  # 5400.0
"""

from __future__ import annotations

import re

from gameday.errors import ConfigError

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
VALID_FORMS = "e.g. 90, 30s, 5m, 1h30m, 250ms"


def parse_timespan(text: str, *, what: str = "duration") -> float:
    raw = text.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", raw):
        return float(raw)
    pos, total = 0, 0.0
    for match in _PART.finditer(raw):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(raw) or not raw:
        raise ConfigError(
            f"invalid {what} {text!r}: use a number of seconds or units ({VALID_FORMS})"
        )
    return total
