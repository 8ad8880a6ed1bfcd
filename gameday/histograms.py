"""HdrHistogram helpers shared by the Locust capture plugin, the load engine, chaos's
probes and the report (a low-level module: it imports nothing from gameday).

Latency is recorded in microseconds from 1 µs to 60 s with 3 significant
digits; histograms are merged exactly (counts add), never by averaging
percentiles.
"""

from __future__ import annotations

from collections.abc import Iterable

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 60_000_000
SIGNIFICANT_DIGITS = 3


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def record_ms(histogram: HdrHistogram, latency_ms: float) -> None:
    """Record one latency; values beyond the range are clamped, never dropped."""
    value = min(max(int(latency_ms * 1000), LOWEST_US), HIGHEST_US)
    histogram.record_value(value)


def encode(histogram: HdrHistogram) -> str:
    return str(histogram.encode().decode("ascii"))


def decode(encoded: str) -> HdrHistogram:
    return HdrHistogram.decode(encoded.encode("ascii"))


def merge(histograms: Iterable[HdrHistogram]) -> HdrHistogram:
    merged = new_histogram()
    for histogram in histograms:
        merged.add(histogram)
    return merged


def percentile_ms(histogram: HdrHistogram, percentile: float) -> float:
    return float(histogram.get_value_at_percentile(percentile)) / 1000.0
