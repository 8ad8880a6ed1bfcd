"""Checking a mix (user class -> weight) against the user classes the Locust files
define: the plan does it before anything starts, the plugin again in each Locust
process. Pure: no Locust here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from gameday.errors import ConfigError


def check_mix(mix: Mapping[str, int], defined: Iterable[str], *, name: str = "") -> None:
    """ConfigError (one line) unless every class of `mix` is defined, with a weight >= 1."""
    known = sorted(set(defined))
    label = f"mix {name!r}" if name else "the mix"
    if not mix:
        raise ConfigError(
            f"{label} names no user class; give one or more of: {', '.join(known) or 'none'}"
        )
    unknown = [cls for cls in mix if cls not in known]
    if unknown:
        defined_text = ", ".join(known) if known else "no user class"
        raise ConfigError(
            f"{label} names user class {', '.join(map(repr, unknown))}, which the Locust "
            f"files do not define; they define: {defined_text}"
        )
    bad = [cls for cls, weight in mix.items() if int(weight) < 1]
    if bad:
        raise ConfigError(f"{label} gives {', '.join(bad)} a weight below 1; weights are >= 1")
