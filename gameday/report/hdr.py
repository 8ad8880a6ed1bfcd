"""HdrHistogram arithmetic on numpy arrays, identical to `hdrh`'s own.

A histogram here is its dense counts array (the `hdrh` layout for 1 µs - 60 s
at 3 significant digits). Merging adds counts, so merged percentiles are exact
to HDR precision; percentiles are never averaged. `value_at_percentile`
follows `HdrHistogram.get_value_at_percentile` (the highest value equivalent
to the bucket that reaches the target count), so figures match the library's.

    counts = dense_counts(hdrh_histogram)
    value_at_percentile(counts, 99.0)   # microseconds
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt
from hdrh.histogram import HdrHistogram

from gameday import histograms

Counts = npt.NDArray[np.int64]


@lru_cache(maxsize=1)
def _layout() -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Lowest and highest equivalent value (µs) of every counts index."""
    h = histograms.new_histogram()
    lowest = np.empty(h.counts_len, dtype=np.int64)
    highest = np.empty(h.counts_len, dtype=np.int64)
    for index in range(h.counts_len):
        value = h.get_value_from_index(index)
        lowest[index] = h.get_lowest_equivalent_value(value)
        highest[index] = h.get_highest_equivalent_value(value)
    lowest.setflags(write=False)
    highest.setflags(write=False)
    return lowest, highest


def counts_len() -> int:
    return len(_layout()[0])


def empty() -> Counts:
    return np.zeros(counts_len(), dtype=np.int64)


def dense_counts(histogram: HdrHistogram) -> Counts:
    return np.ctypeslib.as_array(histogram.counts).astype(np.int64)


def index_of_us(values_us: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Counts index of each value (for building histograms in bulk)."""
    lowest, _ = _layout()
    clipped = np.clip(values_us, histograms.LOWEST_US, histograms.HIGHEST_US)
    return np.searchsorted(lowest, clipped, side="right").astype(np.int64) - 1


def total(counts: Counts) -> int:
    return int(counts.sum())


def value_at_percentile(counts: Counts, percentile: float) -> int:
    """The value (µs) at `percentile` (0-100); 0 for an empty histogram."""
    n = total(counts)
    if n == 0:
        return 0
    target = max(int(min(percentile, 100.0) * n / 100 + 0.5), 1)
    index = int(np.searchsorted(np.cumsum(counts), target, side="left"))
    lowest, highest = _layout()
    return int(highest[index] if percentile else lowest[index])


def percentiles_ms(counts: Counts, percentiles: list[float]) -> list[float]:
    n = total(counts)
    if n == 0:
        return [0.0 for _ in percentiles]
    cumulative = np.cumsum(counts)
    lowest, highest = _layout()
    out = []
    for p in percentiles:
        target = max(int(min(p, 100.0) * n / 100 + 0.5), 1)
        index = int(np.searchsorted(cumulative, target, side="left"))
        out.append(float(highest[index] if p else lowest[index]) / 1000.0)
    return out


def max_ms(counts: Counts) -> float:
    nonzero = np.flatnonzero(counts)
    if len(nonzero) == 0:
        return 0.0
    return float(_layout()[1][nonzero[-1]]) / 1000.0


def min_ms(counts: Counts) -> float:
    nonzero = np.flatnonzero(counts)
    if len(nonzero) == 0:
        return 0.0
    return float(_layout()[0][nonzero[0]]) / 1000.0


def spectrum_ms(counts: Counts) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The percentile spectrum: (percentile, latency ms) at each recorded
    bucket's upper edge, for a plot on a log scale of 1/(1-p)."""
    nonzero = np.flatnonzero(counts)
    if len(nonzero) == 0:
        return np.zeros(0), np.zeros(0)
    cumulative = np.cumsum(counts[nonzero])
    pct = 100.0 * cumulative / cumulative[-1]
    return pct, _layout()[1][nonzero].astype(np.float64) / 1000.0
