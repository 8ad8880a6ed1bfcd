"""Probes for steady-state hypotheses and stop conditions (Chaos Toolkit
python providers). The SLO probe reads the running load test's live.json, so
a hypothesis can be checked during the method, not only before and after."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx

from gameday.chaos.events import record_event, run_dir
from gameday.load import histograms
from gameday.settings import StackSettings

__all__ = [
    "error_rate",
    "error_rate_below",
    "p95_ms",
    "service_ready",
    "slo_holds",
    "wait_until",
]


def _window(window_s: int) -> list[dict[str, Any]]:
    directory = run_dir()
    if directory is None:
        raise RuntimeError("GAMEDAY_RUN_DIR is not set: run experiments with `gameday run`")
    live = json.loads((Path(directory) / "live.json").read_text())
    return list(live["seconds"][-window_s:])


def _measure(window_s: int) -> tuple[float | None, float, int]:
    seconds = _window(window_s)
    requests = sum(s["requests"] for s in seconds)
    errors = sum(s.get("errors", s["failures"]) for s in seconds)
    if not requests:
        return None, 0.0, 0
    merged = histograms.merge(histograms.decode(s["hist"]) for s in seconds)
    return histograms.percentile_ms(merged, 95), errors / requests, requests


def p95_ms(window_s: int = 10) -> float | None:
    return _measure(window_s)[0]


def error_rate(window_s: int = 10) -> float:
    return _measure(window_s)[1]


def slo_holds(
    window_s: int = 10, p95_max_ms: float = 500.0, error_rate_max: float = 0.001, phase: str = ""
) -> bool:
    """True when the last `window_s` seconds kept both objectives (and saw traffic)."""
    p95, rate, requests = _measure(int(window_s))
    ok = (
        requests > 0
        and p95 is not None
        and p95 < float(p95_max_ms)
        and rate <= float(error_rate_max)
    )
    record_event(
        "hypothesis_checked",
        phase=phase,
        probe="slo_holds",
        ok=ok,
        value={"p95_ms": p95, "error_rate": rate, "requests": requests},
    )
    return ok


def error_rate_below(threshold: float = 0.5, window_s: int = 30) -> bool:
    """Safeguard (stop condition): false once the error rate has stayed above
    `threshold` in every one of the last `window_s` seconds ("above 50% for
    30 s"); a second with no completed request counts as failing. A shorter
    outage, however deep, does not trip it."""
    seconds = _window(int(window_s))
    if len(seconds) < int(window_s):
        return True

    def failing(second: dict[str, Any]) -> bool:
        requests = int(second["requests"])
        errors = int(second.get("errors", second["failures"]))
        return requests == 0 or errors / requests > float(threshold)

    return not all(failing(s) for s in seconds)


def service_ready(url: str | None = None, timeout_s: float = 2.0) -> bool:
    base = url or StackSettings().service_url
    try:
        return httpx.get(f"{base}/health/ready", timeout=timeout_s).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until(func: str, timeout_s: float = 60.0, every_s: float = 1.0, **arguments: Any) -> bool:
    """Poll another probe of this module until it answers true (or time runs out)."""
    probe = globals()[func]
    deadline = time.monotonic() + float(timeout_s)
    while time.monotonic() < deadline:
        if probe(**arguments):
            return True
        time.sleep(float(every_s))
    return False
