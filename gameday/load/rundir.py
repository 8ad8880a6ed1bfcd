"""Writing the run directory's per-second files from the master's `Store`
(formats in docs/run-data.md)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from hdrh.log import HistogramLogWriter

from gameday import histograms
from gameday.load.capture_model import (
    CLIENT_ERROR_KIND,
    FAILURE_KINDS,
    Bucket,
    Store,
    server_errors,
)
from gameday.rundir import Exemplar, LedgerEntry, RunDir, UnconfirmedWrite, epoch_of, iso

ALL = "ALL"
TIMESERIES_COLUMNS = [
    "second",
    "endpoint",
    "requests",
    "failures",
    *FAILURE_KINDS,
    "degraded",
    "p50_ms",
    "p90_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
    "target_rps",
    "users",
    "late_starts",
]


def _merged_second(eps: dict[str, Bucket]) -> Bucket:
    total = Bucket()
    for bucket in eps.values():
        total.histogram.add(bucket.histogram)
        total.requests += bucket.requests
        total.failures += bucket.failures
        for kind, count in bucket.kinds.items():
            total.kinds[kind] += count
        total.degraded += bucket.degraded
    return total


ROW_PERCENTILES = (50, 90, 95, 99)


def _row(second: int, endpoint: str, bucket: Bucket) -> dict[str, Any]:
    row: dict[str, Any] = {
        "second": second,
        "endpoint": endpoint,
        "requests": bucket.requests,
        "failures": bucket.failures,
        **bucket.kinds,
        "degraded": bucket.degraded,
    }
    if bucket.requests:
        values = histograms.percentiles_ms(bucket.histogram, ROW_PERCENTILES)
        for p, value in zip(ROW_PERCENTILES, values, strict=True):
            row[f"p{p}_ms"] = round(value, 3)
        row["max_ms"] = round(bucket.histogram.get_max_value() / 1000.0, 3)
    return row


def write_timeseries(store: Store, start_epoch: int, end_epoch: int, out: Path) -> None:
    with open(out / "timeseries.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=TIMESERIES_COLUMNS)
        writer.writeheader()
        for epoch in range(start_epoch, end_epoch + 1):
            second = epoch - start_epoch
            eps = store.buckets.get(epoch, {})
            for endpoint in sorted(eps):
                writer.writerow(_row(second, endpoint, eps[endpoint]))
            total = _row(second, ALL, _merged_second(eps))
            gen = store.generator.get(epoch)
            total["target_rps"] = round(gen.target_rps, 3) if gen and gen.target_rps else ""
            total["users"] = gen.in_flight if gen else ""
            total["late_starts"] = gen.late_starts if gen else 0
            writer.writerow(total)


def _endpoint_file(endpoint: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in endpoint)
    return f"{safe}.hlog"


def write_histograms(store: Store, start_epoch: int, end_epoch: int, out: Path) -> dict[str, str]:
    """One interval log per endpoint plus ALL; returns endpoint -> file name."""
    folder = out / "histograms"
    folder.mkdir(exist_ok=True)
    endpoints = sorted({ep for eps in store.buckets.values() for ep in eps})
    files = {ep: _endpoint_file(ep) for ep in [*endpoints, ALL]}
    for endpoint, name in files.items():
        with open(folder / name, "w") as f:
            f.write(f"#[Histogram log for {endpoint}: latency in microseconds]\n")
            f.write(f"#[StartTime: {start_epoch:.3f} (seconds since epoch), {iso(start_epoch)}]\n")
            f.write(
                '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"\n'
            )
            writer = HistogramLogWriter(f)
            for epoch in range(start_epoch, end_epoch + 1):
                eps = store.buckets.get(epoch, {})
                bucket = _merged_second(eps) if endpoint == ALL else eps.get(endpoint)
                if bucket is None or not bucket.requests:
                    continue
                writer.output_interval_histogram(
                    bucket.histogram, float(epoch), float(epoch + 1), max_value_unit_ratio=1000.0
                )
    (folder / "index.json").write_text(json.dumps(files, indent=2) + "\n")
    return files


def write_exemplars(store: Store, start_epoch: int, out: Path) -> None:
    RunDir(out).write_exemplars(
        Exemplar.model_validate(
            {
                **fields,
                "second": epoch - start_epoch,
                "endpoint": endpoint,
                "latency_ms": round(latency_ms, 3),
                "request_id": request_id or None,  # none found: no id
            }
        )
        for epoch in sorted(store.buckets)
        for endpoint, bucket in sorted(store.buckets[epoch].items())
        for latency_ms, request_id, fields in sorted(bucket.exemplars, reverse=True)
    )


def write_ledger(store: Store, out: Path, clock_zero: int) -> None:
    """The acknowledged and the unconfirmed writes, each dated `t_s` on the run's clock
    from its wall-clock stamp (`acked_at`, `sent_at`) less `clock_zero`."""
    entries = [LedgerEntry.model_validate(_dated(e, "acked_at", clock_zero)) for e in store.ledger]
    RunDir(out).write_ledger(sorted(entries, key=lambda e: e.t_s))
    unconfirmed = [
        UnconfirmedWrite.model_validate(_dated(w, "sent_at", clock_zero)) for w in store.unconfirmed
    ]
    RunDir(out).write_unconfirmed(sorted(unconfirmed, key=lambda w: w.t_s))


def _dated(record: dict[str, Any], stamp: str, clock_zero: int) -> dict[str, Any]:
    return {**record, "t_s": round(epoch_of(record[stamp]) - clock_zero, 3)}


class LiveView:
    """The last `window_s` complete seconds, for the live view and SLO probes.

    Each second's merged histogram is encoded once and cached until a report
    changes that second again: re-encoding the whole window every second cost
    the generator a tenth of a core."""

    def __init__(self, store: Store, start_epoch: int, window_s: int = 60) -> None:
        self.store, self.start_epoch, self.window_s = store, start_epoch, window_s
        self._cache: dict[int, dict[str, Any]] = {}

    def snapshot(self, now_epoch: int) -> dict[str, Any]:
        first = max(self.start_epoch, now_epoch - self.window_s)
        for epoch in list(self._cache):
            if epoch < first or epoch in self.store.changed:
                del self._cache[epoch]
        self.store.changed.clear()
        seconds = []
        for epoch in range(first, now_epoch):
            if epoch not in self._cache:
                total = _merged_second(self.store.buckets.get(epoch, {}))
                self._cache[epoch] = {
                    "second": epoch - self.start_epoch,
                    "requests": total.requests,
                    "failures": total.failures,
                    # errors as the report counts them (SERVER_ERROR_KINDS); 4xx apart
                    "errors": server_errors(total.kinds),
                    CLIENT_ERROR_KIND: total.kinds[CLIENT_ERROR_KIND],
                    "hist": histograms.encode(total.histogram),
                }
            gen = self.store.generator.get(epoch)
            seconds.append(
                {
                    **self._cache[epoch],
                    "target_rps": gen.target_rps if gen else None,
                    "late_starts": gen.late_starts if gen else 0,
                }
            )
        return {
            "updated": iso(now_epoch),
            "start_epoch": self.start_epoch,
            "seconds": seconds,
            "total_requests": self.store.total_requests(),
        }
