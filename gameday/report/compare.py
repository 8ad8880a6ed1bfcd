"""Comparing two runs: per endpoint and overall, the p50/p95/p99 and error
rate deltas with bootstrap confidence intervals, and a regression verdict
from the SLO file's tolerances.

    comparison = compare_runs(load_run(base), load_run(candidate), slo.regression, seed=0)
    comparison.verdict       # "pass", "regression" or "error"

The bootstrap resamples whole seconds (each second's histogram and counts
move together, which keeps the within-second correlation) independently in
each run, merges the resampled histograms exactly and takes the percentile of
the merge. A delta is a regression when it exceeds the tolerance AND its
confidence interval lies entirely above zero, so noise alone never fails a
build and a real slowdown beyond the tolerance always does.

Deltas only mean something between runs of the same load: two runs whose
run.json differ in scenario, rate, users, shape, duration or target URL are
compared all the same, but `comparison.load_differences` names each
difference and `comparison.warnings` says so in words (`gameday compare
--strict` refuses them instead).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from gameday.errors import ConfigError
from gameday.load.capture_model import SERVER_ERROR_KINDS
from gameday.report import hdr
from gameday.report.hlog import HistogramFile
from gameday.report.rundata import (
    ALL,
    HistogramSeries,
    PerSecondHistograms,
    RunData,
    read_hlog,
)
from gameday.slo.model import PERCENTILES, Regression

DEFAULT_RESAMPLES = 200
# run.json fields that define the load: runs differing in one are different experiments.
LOAD_FIELDS = {
    "scenario": "scenario",
    "target_rps": "rate",
    "users": "users",
    "shape": "shape",
    "duration_s": "duration",
    "target_url": "target URL",
}
_UNITS = {"target_rps": " rps", "duration_s": " s"}


class LoadDifference(BaseModel):
    """One run.json fact that differs between the two runs."""

    model_config = ConfigDict(frozen=True)

    field: str = Field(description="the run.json field: " + ", ".join(LOAD_FIELDS))
    label: str = Field(description="what it is called in words (rate for target_rps, ...)")
    base: str | float | int | None
    candidate: str | float | int | None

    def describe(self) -> str:
        unit = _UNITS.get(self.field, "")

        def show(value: str | float | int | None) -> str:
            if value is None:
                return "none"
            return f"{value:g}{unit}" if isinstance(value, int | float) else str(value)

        return f"{self.label} {show(self.base)} vs {show(self.candidate)}"


class DifferentLoads(ConfigError):
    """`--strict`: the two runs did not run the same load."""

    def __init__(self, differences: list[LoadDifference]) -> None:
        super().__init__(
            "the runs ran different loads ("
            + ", ".join(d.describe() for d in differences)
            + "): compare runs of the same load, or drop --strict"
        )
        self.differences = differences


class MetricDelta(BaseModel):
    model_config = ConfigDict(frozen=True)

    scope: str
    metric: str = Field(description="p50_ms, p95_ms, p99_ms or error_rate_pct")
    base: float
    candidate: float
    delta: float = Field(description="candidate - base, in the metric's unit")
    delta_pct: float | None = Field(description="relative change, % of base")
    ci_low: float
    ci_high: float
    tolerance: float | None = Field(description="% growth for latency, points for error rate")
    regression: bool


class Comparison(BaseModel):
    model_config = ConfigDict(frozen=True)

    base_run: str
    candidate_run: str
    verdict: Literal["pass", "regression", "error"]
    reasons: list[str]
    confidence_pct: float
    resamples: int
    seed: int
    deltas: list[MetricDelta]
    load_differences: list[LoadDifference] = Field(
        default_factory=list,
        description="run.json load facts that differ: the deltas then mix the change "
        "under test with a change of load",
    )
    warnings: list[str] = Field(default_factory=list)

    def regressions(self) -> list[MetricDelta]:
        return [d for d in self.deltas if d.regression]


def load_differences(base: RunData, candidate: RunData) -> list[LoadDifference]:
    """The load facts (LOAD_FIELDS) in which the two runs' run.json differ; none
    when either run.json is missing (the comparison is an error already)."""
    if base.record is None or candidate.record is None:
        return []
    differences = []
    for name, label in LOAD_FIELDS.items():
        b, c = getattr(base.record, name), getattr(candidate.record, name)
        if b != c:
            differences.append(LoadDifference(field=name, label=label, base=b, candidate=c))
    return differences


def _warnings(differences: list[LoadDifference]) -> list[str]:
    if not differences:
        return []
    return [
        "the runs ran different loads ("
        + ", ".join(d.describe() for d in differences)
        + "): the deltas mix the candidate's change with the change of load; "
        "compare runs of the same load"
    ]


def _rates(run: RunData, scope: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    frame = run.timeseries
    if frame.empty:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    rows = frame[(frame["endpoint"] == scope) & (frame["requests"] > 0)]
    errors = sum(rows[k].to_numpy(dtype=np.int64) for k in SERVER_ERROR_KINDS)
    return rows["requests"].to_numpy(dtype=np.int64), np.asarray(errors, dtype=np.int64)


def _in_memory(series: PerSecondHistograms | None) -> HistogramSeries | None:
    """Bootstrap resamples seconds, so it needs every second's histogram at hand."""
    if series is None or isinstance(series, HistogramSeries):
        return series
    assert isinstance(series, HistogramFile)
    return read_hlog(series.path)


def _latency_replicates(
    series: HistogramSeries, names: list[str], resamples: int, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """resamples x len(names) percentiles (ms) of bootstrap merges."""
    n = len(series.seconds)
    owner = series.second_of_entry()
    out = np.zeros((resamples, len(names)))
    if n == 0:
        return out
    for r in range(resamples):
        weights = np.bincount(rng.integers(0, n, n), minlength=n)
        merged = np.bincount(
            series.index, weights=series.count * weights[owner], minlength=hdr.counts_len()
        )
        out[r] = hdr.percentiles_ms(
            np.rint(merged).astype(np.int64), [PERCENTILES[p] for p in names]
        )
    return out


def _rate_replicates(
    requests: npt.NDArray[np.int64],
    errors: npt.NDArray[np.int64],
    resamples: int,
    rng: np.random.Generator,
) -> npt.NDArray[np.float64]:
    n = len(requests)
    if n == 0:
        return np.zeros(resamples)
    picks = rng.integers(0, n, (resamples, n))
    rates: npt.NDArray[np.float64] = (
        100.0 * errors[picks].sum(axis=1) / np.maximum(requests[picks].sum(axis=1), 1)
    )
    return rates


def compare_runs(
    base: RunData,
    candidate: RunData,
    tolerances: Regression,
    *,
    seed: int = 0,
    resamples: int = DEFAULT_RESAMPLES,
    strict: bool = False,
) -> Comparison:
    """Raises DifferentLoads when `strict` and the runs ran different loads."""
    differences = load_differences(base, candidate)
    if strict and differences:
        raise DifferentLoads(differences)
    reasons = [f"base: {p}" for p in base.problems] + [
        f"candidate: {p}" for p in candidate.problems
    ]
    rng = np.random.default_rng(seed)
    alpha = (100.0 - tolerances.confidence_pct) / 2.0
    names = ["p50", "p95", "p99"]
    growth = {p: getattr(tolerances.latency_growth_pct, p) for p in names}
    scopes = [ALL] + sorted(set(base.endpoints) & set(candidate.endpoints))
    deltas: list[MetricDelta] = []
    for scope in scopes:
        b_series = _in_memory(base.histograms.get(scope))
        c_series = _in_memory(candidate.histograms.get(scope))
        if b_series is None or c_series is None:
            continue
        b_point = hdr.percentiles_ms(b_series.merged(), [PERCENTILES[p] for p in names])
        c_point = hdr.percentiles_ms(c_series.merged(), [PERCENTILES[p] for p in names])
        diffs = _latency_replicates(c_series, names, resamples, rng) - _latency_replicates(
            b_series, names, resamples, rng
        )
        for i, name in enumerate(names):
            low, high = np.percentile(diffs[:, i], [alpha, 100.0 - alpha])
            delta = c_point[i] - b_point[i]
            pct = 100.0 * delta / b_point[i] if b_point[i] else None
            tolerance = growth[name]
            regression = tolerance is not None and pct is not None and pct > tolerance and low > 0
            deltas.append(
                MetricDelta(
                    scope=scope,
                    metric=f"{name}_ms",
                    base=b_point[i],
                    candidate=c_point[i],
                    delta=round(delta, 6),
                    delta_pct=None if pct is None else round(pct, 3),
                    ci_low=round(float(low), 6),
                    ci_high=round(float(high), 6),
                    tolerance=tolerance,
                    regression=bool(regression),
                )
            )
        b_req, b_err = _rates(base, scope)
        c_req, c_err = _rates(candidate, scope)
        b_rate = 100.0 * b_err.sum() / max(b_req.sum(), 1)
        c_rate = 100.0 * c_err.sum() / max(c_req.sum(), 1)
        rate_diffs = _rate_replicates(c_req, c_err, resamples, rng) - _rate_replicates(
            b_req, b_err, resamples, rng
        )
        low, high = np.percentile(rate_diffs, [alpha, 100.0 - alpha])
        tolerance = tolerances.error_rate_increase_pp
        delta = float(c_rate - b_rate)
        deltas.append(
            MetricDelta(
                scope=scope,
                metric="error_rate_pct",
                base=round(float(b_rate), 6),
                candidate=round(float(c_rate), 6),
                delta=round(delta, 6),
                delta_pct=round(100.0 * delta / b_rate, 3) if b_rate else None,
                ci_low=round(float(low), 6),
                ci_high=round(float(high), 6),
                tolerance=tolerance,
                regression=bool(tolerance is not None and delta > tolerance and low > 0),
            )
        )
    if reasons:
        verdict: Literal["pass", "regression", "error"] = "error"
    elif any(d.regression for d in deltas):
        verdict = "regression"
    else:
        verdict = "pass"
    return Comparison(
        base_run=base.run_id,
        candidate_run=candidate.run_id,
        verdict=verdict,
        reasons=reasons,
        confidence_pct=tolerances.confidence_pct,
        resamples=resamples,
        seed=seed,
        deltas=deltas,
        load_differences=differences,
        warnings=_warnings(differences),
    )
