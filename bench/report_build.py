"""How long `gameday report` takes, and how much memory it needs, for runs of
10 minutes, 1 hour and 6 hours at 1,000 requests per second.

    .venv/bin/python bench/report_build.py            # all three
    .venv/bin/python bench/report_build.py 600 3600   # chosen durations (s)

The synthetic run directories hold histograms, not raw samples, like real
ones: 60 distinct per-second histograms per endpoint (250 req/s each, four
endpoints) are recorded once and written for every second in turn. Each
report is built in a fresh Python process so its peak RSS is its own.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hdrh.histogram import HdrHistogram

ROOT = Path(__file__).resolve().parents[1]
START_EPOCH = 1_800_000_000
ENDPOINTS = ["GET /v1/search", "GET /v1/documents/{id}", "POST /v1/documents", "GET /v1/health"]
RPS_PER_ENDPOINT = 250
TEMPLATES = 60


def _templates(rng: random.Random) -> dict[str, list[tuple[str, float, int]]]:
    """(encoded histogram, max ms, failures) per template, per endpoint and ALL."""
    out: dict[str, list[tuple[str, float, int]]] = {ep: [] for ep in [*ENDPOINTS, "ALL"]}
    for _ in range(TEMPLATES):
        merged = HdrHistogram(1, 60_000_000, 3)
        failures_all = 0
        for ep in ENDPOINTS:
            h = HdrHistogram(1, 60_000_000, 3)
            for _ in range(RPS_PER_ENDPOINT):
                h.record_value(int(1000 * 30 * rng.lognormvariate(0, 0.6)))
            failures = 1 if rng.random() < 0.2 else 0
            failures_all += failures
            merged.add(h)
            out[ep].append((h.encode().decode(), h.get_max_value() / 1000, failures))
        out["ALL"].append((merged.encode().decode(), merged.get_max_value() / 1000, failures_all))
    return out


def make_run(folder: Path, seconds: int) -> None:
    rng = random.Random(seconds)
    templates = _templates(rng)
    hist = folder / "histograms"
    hist.mkdir(parents=True)
    files = {ep: "".join(c if c.isalnum() else "_" for c in ep) + ".hlog" for ep in templates}
    (hist / "index.json").write_text(json.dumps(files))
    for ep, name in files.items():
        with open(hist / name, "w") as f:
            f.write(f"#[StartTime: {START_EPOCH:.3f} (seconds since epoch)]\n")
            f.write(
                '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"\n'
            )
            for s in range(seconds):
                encoded, max_ms, _ = templates[ep][s % TEMPLATES]
                f.write(f"{START_EPOCH + s:.3f},1.000,{max_ms:.3f},{encoded}\n")
    with open(folder / "timeseries.csv", "w") as f:
        f.write(
            "second,endpoint,requests,failures,fail_5xx,fail_4xx,fail_connection,fail_timeout,"
            "p50_ms,p90_ms,p95_ms,p99_ms,max_ms,target_rps,users,late_starts\n"
        )
        decoded = {
            ep: [HdrHistogram.decode(t[0].encode()) for t in ts] for ep, ts in templates.items()
        }
        quantiles = {
            ep: [
                ",".join(f"{h.get_value_at_percentile(p) / 1000:.3f}" for p in (50, 90, 95, 99))
                for h in hs
            ]
            for ep, hs in decoded.items()
        }
        for s in range(seconds):
            k = s % TEMPLATES
            for ep in [*ENDPOINTS, "ALL"]:
                _, max_ms, fails = templates[ep][k]
                n = RPS_PER_ENDPOINT * (len(ENDPOINTS) if ep == "ALL" else 1)
                tail = "1000,40,0" if ep == "ALL" else ",,"
                f.write(
                    f"{s},{ep},{n},{fails},{fails},0,0,0,{quantiles[ep][k]},{max_ms:.3f},{tail}\n"
                )
    (folder / "events.jsonl").write_text(
        json.dumps({"type": "load_started", "t_s": 0.0})
        + "\n"
        + json.dumps(
            {
                "type": "fault_injected",
                "t_s": seconds / 2,
                "name": "opensearch-down",
                "target": "opensearch",
                "fault": "down",
            }
        )
        + "\n"
        + json.dumps(
            {
                "type": "fault_removed",
                "t_s": seconds / 2 + 60,
                "name": "opensearch-down",
                "target": "opensearch",
                "fault": "down",
            }
        )
        + "\n"
    )
    (folder / "exemplars.jsonl").write_text("")
    (folder / "run.json").write_text(
        json.dumps(
            {
                "run_id": folder.name,
                "scenario": "search_mix",
                "shape": "constant-rate",
                "model": "open",
                "target_rps": 1000.0,
                "duration_s": float(seconds),
                "workers": 4,
                "seed": 42,
                "generator": {"valid": True, "reasons": []},
                "status": "completed",
            }
        )
    )
    (folder / "reconciliation.json").write_text(json.dumps({"acknowledged": 1, "present": 1}))


_MEASURE = """
import resource, sys, time
from pathlib import Path
t = time.perf_counter()
from gameday.report import write_report
summary = write_report(Path(sys.argv[1]), slo_path=Path(sys.argv[2]))
elapsed = time.perf_counter() - t
rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{elapsed:.2f} {rss_mib:.0f} {summary.overall.count} {summary.verdict.value}")
"""


def main(durations: list[int]) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seconds in durations:
            folder = Path(tmp) / f"bench-{seconds}s"
            made = time.perf_counter()
            make_run(folder, seconds)
            made = time.perf_counter() - made
            out = subprocess.run(
                [sys.executable, "-c", _MEASURE, str(folder), str(ROOT / "slo.yaml")],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            ).stdout.split()
            size_mib = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20
            rows.append((seconds, int(out[2]), float(out[0]), float(out[1]), size_mib, made))
            sys.stdout.write(
                f"{seconds:>6} s  {int(out[2]):>11,} requests  build {float(out[0]):6.2f} s  "
                f"peak RSS {float(out[1]):6.0f} MiB  run dir {size_mib:6.1f} MiB  "
                f"(generated in {made:.1f} s)\n"
            )
            sys.stdout.flush()
    if len(rows) > 1:
        base = rows[0]
        for row in rows[1:]:
            sys.stdout.write(
                f"{row[0]} s vs {base[0]} s: {row[0] / base[0]:.0f}x the data, "
                f"{row[2] / base[2]:.1f}x the time, {row[3] / base[3]:.1f}x the memory\n"
            )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [600, 3600, 21600])
