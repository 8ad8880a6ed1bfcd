"""Merged histograms give the percentiles of the union of the raw samples."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gameday import histograms

latencies_ms = st.lists(st.floats(min_value=0.001, max_value=59_000.0), min_size=1, max_size=300)


def _exact_percentile(samples_ms: list[float], percentile: float) -> float:
    """Nearest rank, rounded half up: the definition HdrHistogram uses."""
    ordered = sorted(samples_ms)
    rank = min(len(ordered), max(1, math.floor(percentile / 100.0 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@settings(max_examples=60, deadline=None)
@given(
    workers=st.lists(latencies_ms, min_size=1, max_size=6),
    percentile=st.sampled_from([50.0, 90.0, 95.0, 99.0, 99.9, 100.0]),
)
def test_merged_percentiles_equal_those_of_the_union_within_hdr_precision(
    workers: list[list[float]], percentile: float
) -> None:
    per_worker = []
    for samples in workers:
        histogram = histograms.new_histogram()
        for value in samples:
            histograms.record_ms(histogram, value)
        # as shipped in a worker report
        per_worker.append(histograms.decode(histograms.encode(histogram)))
    merged = histograms.merge(per_worker)
    union = [max(v, 0.001) for samples in workers for v in samples]
    expected = _exact_percentile(union, percentile)
    measured = histograms.percentile_ms(merged, percentile)
    assert merged.get_total_count() == len(union)
    # 3 significant digits: within 0.1% of the value, plus the 1 µs floor of recording
    assert abs(measured - expected) <= expected * 1e-3 + 0.002, (measured, expected)


def test_values_beyond_the_range_are_clamped_not_dropped() -> None:
    histogram = histograms.new_histogram()
    histograms.record_ms(histogram, 120_000.0)  # 2 minutes
    histograms.record_ms(histogram, 0.0)
    assert histogram.get_total_count() == 2
    assert histograms.percentile_ms(histogram, 100) >= 59_000.0


PERCENTILES = [0.0, 1.0, 50.0, 90.0, 95.0, 99.0, 99.9, 100.0]


@pytest.mark.parametrize("seed", range(8))
def test_percentiles_equal_hdrhs_own_walk_on_live_and_decoded_histograms(seed: int) -> None:
    rng = random.Random(seed)
    live = histograms.new_histogram()
    for _ in range(rng.choice([1, 2, 17, 500, 5000])):
        histograms.record_ms(live, rng.lognormvariate(3, 1.5))  # 1 ms to minutes: clamped too
    for histogram in (live, histograms.decode(histograms.encode(live))):
        expected = [histogram.get_value_at_percentile(p) / 1000.0 for p in PERCENTILES]
        assert histograms.percentiles_ms(histogram, PERCENTILES) == expected
        assert histograms.percentile_ms(histogram, 95.0) == expected[4]


def test_an_empty_histogram_gives_zero_like_hdrh() -> None:
    empty = histograms.new_histogram()
    assert histograms.percentiles_ms(empty, PERCENTILES) == [0.0] * len(PERCENTILES)
    assert empty.get_value_at_percentile(95.0) == 0
