"""Synthetic run directories built from known raw samples, written to the
formats of docs/run-data.md independently of the load side's writers (the
histograms with hdrh's own HistogramLogWriter).

    run_dir = make_run_dir(tmp_path, samples=steady_samples(seconds=60, rps=50))
"""

from __future__ import annotations

import csv
import json
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram
from hdrh.log import HistogramLogWriter

START_EPOCH = 1_800_000_000
FAILURE_KINDS = ("fail_5xx", "fail_4xx", "fail_connection", "fail_timeout")
SEARCH = "GET /v1/search"
DOC = "GET /v1/documents/{id}"


@dataclass(frozen=True)
class Sample:
    t_s: float
    endpoint: str
    latency_ms: float
    kind: str | None = None  # fail_5xx, fail_4xx, fail_connection, fail_timeout
    request_id: str = ""

    @property
    def second(self) -> int:
        return int(self.t_s)


def steady_samples(
    *,
    seconds: int,
    rps: int,
    start_s: int = 0,
    endpoints: Sequence[str] = (SEARCH, DOC),
    median_ms: float = 40.0,
    seed: int = 7,
    error_every: int = 0,
) -> list[Sample]:
    """Lognormal latencies; every `error_every`-th request a 5xx when set."""
    rng = random.Random(seed)
    out = []
    n = 0
    for second in range(start_s, start_s + seconds):
        for i in range(rps):
            n += 1
            kind = "fail_5xx" if error_every and n % error_every == 0 else None
            out.append(
                Sample(
                    t_s=second + i / rps,
                    endpoint=endpoints[i % len(endpoints)],
                    latency_ms=round(median_ms * rng.lognormvariate(0.0, 0.5), 3),
                    kind=kind,
                    request_id=f"r{second}-{i}",
                )
            )
    return out


def event(kind: str, t_s: float, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "t_s": t_s, "wall": iso(START_EPOCH + t_s), **fields}


def fault(
    name: str, injected_s: float, removed_s: float, target: str = "opensearch"
) -> list[dict[str, Any]]:
    common = {"name": name, "target": target, "fault": "down", "attributes": {}}
    return [
        event("fault_injected", injected_s, **common),
        event("fault_removed", removed_s, **common),
    ]


def make_run_dir(
    tmp_path: Path,
    *,
    samples: Iterable[Sample],
    events: Sequence[dict[str, Any]] = (),
    duration_s: int | None = None,
    target_rps: float | None = None,
    generator: dict[str, Any] | None = None,
    reconciliation: dict[str, Any] | None = None,
    ledger: Sequence[dict[str, Any]] = (),
    status: str = "completed",
    name: str = "run",
    slo_yaml: str | None = None,
) -> Path:
    run_dir = tmp_path / name
    run_dir.mkdir(parents=True)
    samples = list(samples)
    end_s = duration_s if duration_s is not None else max(s.second for s in samples) + 1
    _write_series(run_dir, samples, end_s=end_s, target_rps=target_rps)
    (run_dir / "ledger.jsonl").write_text("".join(json.dumps(e) + "\n" for e in ledger))
    all_events = [
        event("load_started", 0.0),
        *events,
        event("load_stopped", end_s, reason="completed"),
    ]
    (run_dir / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in all_events))
    record = {
        "run_id": name,
        "scenario": "search_mix",
        "shape": "constant-rate" if target_rps else "steady",
        "model": "open" if target_rps else "closed",
        "target_rps": target_rps,
        "users": None if target_rps else 10,
        "spawn_rate": None,
        "duration_s": float(end_s),
        "workers": 1,
        "seed": 42,
        "target_url": "http://127.0.0.1:28080",
        "via_proxy": False,
        "started_at": iso(START_EPOCH),
        "ended_at": iso(START_EPOCH + end_s),
        "git_sha": "0123456789abcdef",
        "versions": {"gameday": "0.1.0", "python": "3.11", "stack": {"opensearch": "2.19"}},
        "host": {"hostname": "test", "cores": 2},
        "slo_file": "slo.yaml",
        "experiment": None,
        "generator": {
            "valid": True,
            "reasons": [],
            "max_worker_cpu_pct": 40.0,
            "workers_lost": 0,
            "late_starts": 0,
            "achieved_over_target": 1.0,
            **(generator or {}),
        },
        "status": status,
    }
    (run_dir / "run.json").write_text(json.dumps(record, indent=2) + "\n")
    if reconciliation is not None:
        (run_dir / "reconciliation.json").write_text(json.dumps(reconciliation) + "\n")
    if slo_yaml is not None:
        (run_dir / "slo.yaml").write_text(slo_yaml)
    return run_dir


def iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def new_histogram() -> HdrHistogram:
    return HdrHistogram(1, 60_000_000, 3)


def file_name(endpoint: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in endpoint) + ".hlog"


def nearest_rank_ms(values_ms: Sequence[float], percentile: float) -> float:
    """The exact percentile of raw samples, nearest rank rounded half up (the
    definition HdrHistogram uses), computed without any histogram."""
    ordered = sorted(values_ms)
    rank = min(len(ordered), max(1, math.floor(percentile / 100.0 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def _write_series(
    run_dir: Path, samples: list[Sample], *, end_s: int, target_rps: float | None
) -> None:
    endpoints = sorted({s.endpoint for s in samples})
    by_key: dict[tuple[int, str], list[Sample]] = {}
    for sample in samples:
        by_key.setdefault((sample.second, sample.endpoint), []).append(sample)
        by_key.setdefault((sample.second, "ALL"), []).append(sample)
    columns = [
        "second",
        "endpoint",
        "requests",
        "failures",
        *FAILURE_KINDS,
        "p50_ms",
        "p90_ms",
        "p95_ms",
        "p99_ms",
        "max_ms",
        "target_rps",
        "users",
        "late_starts",
    ]
    folder = run_dir / "histograms"
    folder.mkdir()
    files = {ep: file_name(ep) for ep in [*endpoints, "ALL"]}
    (folder / "index.json").write_text(json.dumps(files, indent=2) + "\n")
    handles = {ep: open(folder / name, "w") for ep, name in files.items()}  # noqa: SIM115
    writers = {}
    for ep, f in handles.items():
        f.write(f"#[StartTime: {START_EPOCH:.3f} (seconds since epoch), {iso(START_EPOCH)}]\n")
        writer = HistogramLogWriter(f)
        writer.output_legend()
        writers[ep] = writer
    exemplars = []
    with open(run_dir / "timeseries.csv", "w", newline="") as out:
        table = csv.DictWriter(out, fieldnames=columns)
        table.writeheader()
        for second in range(end_s):
            for ep in [*endpoints, "ALL"]:
                bucket = by_key.get((second, ep), [])
                row: dict[str, Any] = {"second": second, "endpoint": ep, "requests": len(bucket)}
                row["failures"] = sum(1 for s in bucket if s.kind)
                for kind in FAILURE_KINDS:
                    row[kind] = sum(1 for s in bucket if s.kind == kind)
                if bucket:
                    h = new_histogram()
                    for s in bucket:
                        h.record_value(min(max(int(s.latency_ms * 1000), 1), 60_000_000))
                    for p in (50, 90, 95, 99):
                        row[f"p{p}_ms"] = h.get_value_at_percentile(p) / 1000.0
                    row["max_ms"] = h.get_max_value() / 1000.0
                    writers[ep].output_interval_histogram(
                        h,
                        float(START_EPOCH + second),
                        float(START_EPOCH + second + 1),
                        max_value_unit_ratio=1000.0,
                    )
                if ep == "ALL":
                    row["target_rps"] = target_rps if target_rps else ""
                    row["users"] = 3
                    row["late_starts"] = 0
                elif bucket:
                    for s in sorted(bucket, key=lambda s: -s.latency_ms)[:3]:
                        exemplars.append(
                            {
                                "second": second,
                                "endpoint": ep,
                                "method": ep.split()[0],
                                "path": ep.split()[-1],
                                "status": {"fail_5xx": 503, "fail_4xx": 404}.get(s.kind or "", 200),
                                "latency_ms": s.latency_ms,
                                "request_id": s.request_id,
                                "wall": iso(START_EPOCH + s.t_s),
                            }
                        )
                table.writerow(row)
    for f in handles.values():
        f.close()
    (run_dir / "exemplars.jsonl").write_text("".join(json.dumps(e) + "\n" for e in exemplars))
