"""`stack up` ends by warming the reference service's search engine up: a just-started
OpenSearch JVM answers its first concurrent searches slowly enough to open the
service's search breaker in the first seconds of the first run. How to warm it is the
service's own knowledge: the reference profile's `warmup` hook
(service/gameday_hooks.py), called through the profile, never imported by name.

    warm_up(settings, print)   # "search     warm in 0.4s (3 rounds)"
"""

from __future__ import annotations

from pathlib import Path

from gameday.errors import GamedayError
from gameday.settings import StackSettings
from gameday.stack.component import Report
from gameday.target import REFERENCE_PROFILE, HookContext, call_hook, load_profile


def warm_up(
    settings: StackSettings,
    report: Report,
    *,
    profile_path: Path = REFERENCE_PROFILE,
    alias: str | None = None,
    budget_s: float = 90.0,
) -> None:
    """Calls the profile's warm-up hook with the stack's OpenSearch proxies; reports its
    line. A warm-up that cannot run is reported, never fatal: the stack is up."""
    params: dict[str, object] = {
        "opensearch_hosts": ",".join(settings.opensearch_urls),
        "budget_s": budget_s,
    }
    if alias is not None:
        params["alias"] = alias
    try:
        profile = load_profile(profile_path)
        if profile.hooks.warmup is None:
            return
        line = call_hook(
            profile, "warmup", HookContext(base_url=settings.service_url, params=params)
        )
    except GamedayError as exc:
        report(f"search     warm-up skipped: {exc}")
        return
    if line:
        report(str(line))
