"""Figures measured from the run data over a scope and a range of seconds.

    overall = measure(run, ALL, 0, 600)
    overall.p95_ms      # from the merged HdrHistogram of seconds [0, 600)

Seconds are whole: a phase [start_s, end_s) covers the seconds from
floor(start_s) to floor(end_s), so the second a fault starts in counts as
part of the fault window.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

# what counts as an error is defined once, with the failure kinds the capture records
from gameday.load.capture_model import FAILURE_KINDS, SERVER_ERROR_KINDS
from gameday.report import hdr
from gameday.report.rundata import ALL, RunData
from gameday.slo.verdict import Figures

REPORTED_PERCENTILES = {"p50": 50.0, "p90": 90.0, "p95": 95.0, "p99": 99.0, "p99_9": 99.9}


def second_range(start_s: float, end_s: float) -> tuple[int, int]:
    return math.floor(start_s), max(math.floor(start_s), math.ceil(end_s - 1e-9))


def rows(run: RunData, endpoint: str, start_s: float, end_s: float) -> pd.DataFrame:
    frame = run.timeseries
    if frame.empty:
        return frame
    lo, hi = second_range(start_s, end_s)
    mask = (frame["endpoint"] == endpoint) & (frame["second"] >= lo) & (frame["second"] < hi)
    return frame[mask]


def measure(run: RunData, endpoint: str, start_s: float, end_s: float) -> Figures:
    lo, hi = second_range(start_s, end_s)
    selected = rows(run, endpoint, start_s, end_s)
    count = int(selected["requests"].sum()) if not selected.empty else 0
    by_kind = {
        kind: int(selected[kind].sum()) if not selected.empty else 0 for kind in FAILURE_KINDS
    }
    errors = sum(by_kind[k] for k in SERVER_ERROR_KINDS)
    failures = int(selected["failures"].sum()) if not selected.empty else 0
    series = run.histograms.get(endpoint)
    counts = series.merged(lo, hi) if series is not None else hdr.empty()
    values = hdr.percentiles_ms(counts, list(REPORTED_PERCENTILES.values()))
    # From the first to the last second that saw traffic: the run's start-up and the
    # drain after the last arrival are not load, and would dilute the rate.
    seconds = (
        [int(v) for v in selected["second"][selected["requests"] > 0]] if len(selected) else []
    )
    duration_s = (
        float(max(max(seconds) - min(seconds) + 1, 1)) if seconds else float(max(hi - lo, 1))
    )
    achieved = None
    if endpoint == ALL and not selected.empty and "target_rps" in selected.columns:
        scheduled = pd.to_numeric(selected["target_rps"], errors="coerce").dropna()
        if len(scheduled) and float(scheduled.sum()) > 0:
            achieved = round(count / float(scheduled.sum()), 6)
    return Figures(
        count=count,
        errors=errors,
        failures=failures,
        by_kind=by_kind,
        degraded=int(selected["degraded"].sum()) if not selected.empty else 0,
        duration_s=duration_s,
        rps=round(count / duration_s, 6),
        error_rate_pct=round(100.0 * errors / count, 6) if count else 0.0,
        achieved_ratio=achieved,
        p50_ms=values[0],
        p90_ms=values[1],
        p95_ms=values[2],
        p99_ms=values[3],
        p99_9_ms=values[4],
        max_ms=hdr.max_ms(counts),
    )


def ok_by_second(
    run: RunData,
    *,
    end_s: int,
    latency_ms: dict[str, float],
    error_rate_pct: float | None,
) -> list[bool]:
    """Whether each second met the overall objectives (per-second percentiles
    from timeseries.csv, which come from that second's histogram). A second in
    which no request completed does not count as healthy."""
    per_second = run.per_second()
    ok = [False] * end_s
    if per_second.empty:
        return ok
    frame = per_second.reindex(range(end_s))
    requests = frame["requests"].fillna(0).to_numpy()
    good = requests > 0
    for name, threshold in latency_ms.items():
        column = f"{name}_ms"
        if column in frame.columns:
            values = pd.to_numeric(frame[column], errors="coerce").to_numpy()
            good &= np.nan_to_num(values, nan=np.inf) <= threshold
    if error_rate_pct is not None:
        errors = sum(frame[k].fillna(0).to_numpy() for k in SERVER_ERROR_KINDS)
        rate = np.divide(errors * 100.0, requests, out=np.zeros(end_s), where=requests > 0)
        good &= rate <= error_rate_pct
    return [bool(v) for v in good]


def run_end_s(run: RunData) -> int:
    """Seconds of data: one past the last recorded second (or the planned duration)."""
    if not run.timeseries.empty:
        return int(run.timeseries["second"].max()) + 1
    if run.record is not None and run.record.duration_s:
        return math.ceil(run.record.duration_s)
    return 0
