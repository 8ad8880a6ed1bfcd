"""The report's charts as inline SVG (matplotlib, Agg backend).

matplotlib is imported when the first chart is drawn, never when the CLI
starts. Every function returns an `<svg>` element ready to paste into HTML,
stripped of the XML prolog, namespaces and metadata so the page references
no URL at all.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from gameday.report.analysis import FaultWindow, timeline
from gameday.rundir import BreakerTransition, Event

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

WIDTH_IN = 10.0
# A chart over time draws at most this many points per line: a 6-hour run has 21,600
# seconds, more than the page is pixels wide, and drawing them all cost seconds.
MAX_POINTS = 1200
# latency columns keep the worst second of a bucket, so a spike stays visible
_PEAK_COLUMNS = ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms")
FAULT_COLOUR = "#d62728"
BREAKER_COLOURS = {
    "closed": "#2ca02c",
    "half_open": "#ff7f0e",
    "half-open": "#ff7f0e",
    "open": "#d62728",
}


def step_s(per_second: pd.DataFrame, *, max_points: int = MAX_POINTS) -> int:
    """Seconds per point so that the frame's span fits in `max_points` points."""
    if per_second.empty:
        return 1
    span = int(per_second.index.max()) - int(per_second.index.min()) + 1
    return max(1, math.ceil(span / max_points))


def thin(per_second: pd.DataFrame, step: int) -> pd.DataFrame:
    """One row per `step` seconds, indexed by its first second: counts, rates and
    ratios as the mean per second over the bucket, latency percentiles as the
    bucket's worst second. Ratios of counts (error %) are exact: both sides are
    means over the same seconds. A step of 1 returns the frame itself."""
    if step <= 1 or per_second.empty:
        return per_second
    numeric = per_second.drop(columns=["endpoint"], errors="ignore").apply(
        pd.to_numeric, errors="coerce"
    )
    buckets = numeric.groupby((per_second.index.to_numpy() // step) * step)
    peaks = [c for c in numeric.columns if c in _PEAK_COLUMNS]
    means = [c for c in numeric.columns if c not in _PEAK_COLUMNS]
    thinned = pd.concat([buckets[means].mean(), buckets[peaks].max()], axis=1)
    ordered: pd.DataFrame = thinned[list(numeric.columns)]
    return ordered


def _figure(
    rows: int, height_in: float, ratios: Sequence[float] | None = None
) -> tuple[Figure, Any]:
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams.update(
        {
            "svg.fonttype": "none",
            "svg.hashsalt": "gameday",
            "font.size": 9,
            "axes.grid": True,
            "grid.alpha": 0.3,
        }
    )
    from matplotlib.figure import Figure

    # fixed margins, not a layout engine: constrained layout draws every figure twice
    fig = Figure(figsize=(WIDTH_IN, height_in))
    fig.subplots_adjust(left=0.09, right=0.93, top=0.96, bottom=0.6 / height_in, hspace=0.12)
    axes = fig.subplots(
        rows, 1, sharex=True, gridspec_kw={"height_ratios": ratios} if ratios else None
    )
    return fig, axes


def _plain_log_labels(axis: Any) -> None:
    """A log axis labelled in plain text ("100", "200"): matplotlib's default writes
    10^2 in mathtext, whose parser was 0.3 s of a short run's 2.3 s report."""
    from matplotlib.ticker import LogFormatter

    axis.set_major_formatter(LogFormatter(labelOnlyBase=False))
    axis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.4)))


def _svg(fig: Figure) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    text = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", text)
    return text.replace("<svg ", '<svg role="img" ', 1)


def _shade(ax: Axes, windows: Sequence[FaultWindow], end_s: float, *, label: bool) -> None:
    for w in windows:
        stop = w.removed_s if w.removed_s is not None else end_s
        ax.axvspan(w.injected_s, stop, color=FAULT_COLOUR, alpha=0.12, lw=0)
        if label:
            ax.annotate(
                w.name,
                (w.injected_s, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(2, -10),
                textcoords="offset points",
                color=FAULT_COLOUR,
                fontsize=8,
            )


def traffic(
    per_second: pd.DataFrame,
    *,
    windows: Sequence[FaultWindow],
    events: Sequence[Event],
    end_s: float,
) -> str:
    """Throughput, error rate and active users per second, plus one breaker
    state strip per dependency."""
    dependencies = sorted(
        {e.dependency for e in events if isinstance(e, BreakerTransition) and e.dependency}
    )
    rows = 3 + len(dependencies)
    fig, axes = _figure(
        rows, 5.5 + 0.4 * len(dependencies), [3, 2, 1.5] + [0.4] * len(dependencies)
    )
    x = per_second.index.to_numpy()
    ok = per_second["requests"] - per_second["failures"]
    ax = axes[0]
    ax.plot(x, per_second["requests"], label="completed req/s", color="#1f77b4")
    ax.plot(x, ok, label="successful req/s", color="#2ca02c", lw=0.8)
    if "target_rps" in per_second.columns:
        target = pd.to_numeric(per_second["target_rps"], errors="coerce")
        if target.notna().any():
            ax.plot(x, target, label="scheduled req/s", color="grey", ls="--", lw=0.8)
    ax.set_ylabel("requests/s")
    ax.legend(loc="lower left", fontsize=8)
    server = per_second[["fail_5xx", "fail_connection", "fail_timeout"]].sum(axis=1)
    requests = per_second["requests"].replace(0, np.nan)
    axes[1].plot(
        x, (100 * server / requests).fillna(0), color=FAULT_COLOUR, label="server errors %"
    )
    axes[1].plot(
        x,
        (100 * per_second["fail_4xx"] / requests).fillna(0),
        color="#9467bd",
        lw=0.8,
        label="4xx %",
    )
    if per_second["degraded"].any():  # fallback answers (X-Degraded): served, but stale
        axes[1].plot(
            x,
            (100 * per_second["degraded"] / requests).fillna(0),
            color="#bcbd22",
            lw=0.8,
            label="degraded answers %",
        )
    axes[1].set_ylabel("error / degraded %")
    axes[1].legend(loc="upper left", fontsize=8)
    users = pd.to_numeric(per_second.get("users", pd.Series(dtype=float)), errors="coerce")
    axes[2].plot(
        x, users.reindex(per_second.index) if len(users) else np.zeros(len(x)), color="#8c564b"
    )
    axes[2].set_ylabel("users / in flight")
    for ax in axes[:3]:
        _shade(ax, windows, end_s, label=ax is axes[0])
    for ax, dependency in zip(axes[3:], dependencies, strict=True):
        _breaker_strip(ax, dependency, events, end_s)
    axes[-1].set_xlabel("seconds since load start")
    axes[-1].set_xlim(0, max(end_s, 1))
    return _svg(fig)


def _breaker_strip(ax: Axes, dependency: str, events: Sequence[Event], end_s: float) -> None:
    state, since = "closed", 0.0
    for e, t_s in timeline(events):
        if not isinstance(e, BreakerTransition) or e.dependency != dependency:
            continue
        ax.axvspan(since, t_s, color=BREAKER_COLOURS.get(state, "grey"), lw=0)
        state, since = e.to_state.lower(), t_s
    ax.axvspan(since, end_s, color=BREAKER_COLOURS.get(state, "grey"), lw=0)
    ax.set_yticks([])
    ax.grid(False)
    ax.set_ylabel(f"{dependency}\nbreaker", rotation=0, ha="right", va="center", fontsize=8)


def latency(
    per_second: pd.DataFrame,
    *,
    windows: Sequence[FaultWindow],
    end_s: float,
    thresholds_ms: dict[str, float],
) -> str:
    fig, ax = _figure(1, 3.2)
    x = per_second.index.to_numpy()
    for column, colour in (("p50_ms", "#2ca02c"), ("p95_ms", "#ff7f0e"), ("p99_ms", "#d62728")):
        if column in per_second.columns:
            ax.plot(
                x,
                pd.to_numeric(per_second[column], errors="coerce"),
                label=column[:-3],
                color=colour,
                lw=1,
            )
    for name, value in thresholds_ms.items():
        ax.axhline(value, color="black", ls=":", lw=0.8)
        ax.annotate(
            f"SLO {name} {value:g} ms",
            (0, value),
            xytext=(2, 2),
            textcoords="offset points",
            fontsize=7,
        )
    _shade(ax, windows, end_s, label=True)
    ax.set_yscale("log")
    _plain_log_labels(ax.yaxis)
    ax.set_ylabel("latency (ms, log)")
    ax.set_xlabel("seconds since load start")
    ax.set_xlim(0, max(end_s, 1))
    ax.legend(loc="upper right", fontsize=8)
    return _svg(fig)


def spectrum(curves: dict[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]]) -> str:
    """HDR percentile plot: latency against 1/(1-p) on a log axis, so the tail
    (99%, 99.9%, 99.99%) gets as much room as the median."""
    fig, ax = _figure(1, 3.6)
    top = 1.0
    for label, (pct, values_ms) in curves.items():
        if len(pct) == 0:
            continue
        keep = pct < 100.0
        inv = 1.0 / (1.0 - np.append(pct[keep], [99.9999]) / 100.0)
        vals = np.append(values_ms[keep], values_ms[-1])
        x = np.concatenate([[1.0], inv])
        y = np.concatenate([[values_ms[0]], vals])
        ax.step(x, y, where="post", label=label, lw=1.2)
        top = max(top, float(inv.max()))
    ax.set_xscale("log")
    _plain_log_labels(ax.xaxis)
    ticks = [t for t in (1, 2, 10, 100, 1000, 10_000, 100_000, 1_000_000) if t <= top * 1.01]
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{100 - 100 / t:g}%" for t in ticks])
    ax.set_xlabel("percentile")
    ax.set_ylabel("latency (ms)")
    if ax.get_legend_handles_labels()[1]:
        ax.legend(loc="upper left", fontsize=8)
    return _svg(fig)


def error_budget(
    per_second: pd.DataFrame,
    *,
    budget_fraction: float,
    windows: Sequence[FaultWindow],
    end_s: float,
) -> str:
    fig, ax = _figure(1, 2.8)
    errors = per_second[["fail_5xx", "fail_connection", "fail_timeout"]].sum(axis=1).cumsum()
    allowed = per_second["requests"].cumsum() * budget_fraction
    step = step_s(per_second)
    if step > 1:  # cumulative sums are exact at any second: keep each bucket's last
        last = per_second.index.to_series().groupby(per_second.index.to_numpy() // step).max()
        errors, allowed = errors.loc[last.to_numpy()], allowed.loc[last.to_numpy()]
    x = errors.index.to_numpy()
    ax.plot(x, errors, color=FAULT_COLOUR, label="server errors so far")
    ax.plot(x, allowed, color="black", ls="--", lw=0.8, label="error budget so far")
    _shade(ax, windows, end_s, label=True)
    ax.set_ylabel("requests")
    ax.set_xlabel("seconds since load start")
    ax.set_xlim(0, max(end_s, 1))
    ax.legend(loc="upper left", fontsize=8)
    return _svg(fig)


def experiment_timeline(
    per_second: pd.DataFrame,
    *,
    window: FaultWindow,
    marks: dict[str, float | None],
    end_s: float,
) -> str:
    """Server error rate and p95 around one fault, with its moments marked."""
    stop = window.removed_s if window.removed_s is not None else end_s
    lo = max(0.0, window.injected_s - 30)
    hi = min(end_s, max(stop, *(m for m in marks.values() if m is not None)) + 30)
    part = per_second.loc[(per_second.index >= lo) & (per_second.index < hi)]
    part = thin(part, step_s(part))
    fig, ax = _figure(1, 2.6)
    x = part.index.to_numpy()
    server = part[["fail_5xx", "fail_connection", "fail_timeout"]].sum(axis=1)
    rate = (100 * server / part["requests"].replace(0, np.nan)).fillna(0)
    ax.plot(x, rate, color=FAULT_COLOUR, label="server errors %")
    ax.set_ylabel("error %")
    twin = ax.twinx()
    twin.plot(
        x,
        pd.to_numeric(part.get("p95_ms", pd.Series(dtype=float)), errors="coerce"),
        color="#ff7f0e",
        lw=0.8,
        label="p95 ms",
    )
    twin.set_ylabel("p95 (ms)")
    twin.grid(False)
    _shade(ax, [window], end_s, label=True)
    for i, (label, t) in enumerate(marks.items()):
        if t is None:
            continue
        ax.axvline(t, color="black", lw=0.8, ls="--")
        ax.annotate(
            label,
            (t, 0.95 - 0.12 * (i % 5)),
            xycoords=("data", "axes fraction"),
            xytext=(2, 0),
            textcoords="offset points",
            fontsize=7,
        )
    ax.set_xlim(lo, max(hi, lo + 1))
    ax.set_xlabel("seconds since load start")
    return _svg(fig)


def series(
    per_second: pd.DataFrame,
    column: str,
    *,
    ylabel: str,
    windows: Sequence[FaultWindow],
    end_s: float,
) -> str:
    fig, ax = _figure(1, 2.4)
    ax.plot(
        per_second.index.to_numpy(),
        pd.to_numeric(per_second[column], errors="coerce"),
        color="#17becf",
    )
    _shade(ax, windows, end_s, label=True)
    ax.set_ylabel(ylabel)
    ax.set_xlabel("seconds since load start")
    ax.set_xlim(0, max(end_s, 1))
    return _svg(fig)
