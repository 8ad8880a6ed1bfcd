"""How long `gameday report` takes, and how much memory it needs, for runs of
10 minutes, 1 hour and 6 hours at 1,000 requests per second.

    .venv/bin/python bench/report_build.py            # all three
    .venv/bin/python bench/report_build.py 600 3600   # chosen durations (s)
    # the same run directories reported by an older gameday too, side by side:
    git archive <commit> gameday | tar -x -C /tmp/before-report
    .venv/bin/python bench/report_build.py --baseline /tmp/before-report --rounds 3 3600 21600

The synthetic run directories hold histograms, not raw samples, like real
ones: 60 distinct per-second histograms per endpoint (250 req/s each, four
endpoints) are recorded once and written for every second in turn. Each
report is built in a fresh Python process so its peak RSS is its own; with
`--baseline DIR` (a folder holding an older `gameday` package) each run directory
is also reported by that package, in its own fresh process, rounds alternating,
and the two summary.json files must give the same verdicts and figures.
Figures are medians over `--rounds`.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
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
summary = write_report(Path(sys.argv[1]), slo_path=Path(sys.argv[2]), out=Path(sys.argv[3]))
elapsed = time.perf_counter() - t
usage = resource.getrusage(resource.RUSAGE_SELF)
rss_mib = usage.ru_maxrss / 1024
cpu_s = usage.ru_utime + usage.ru_stime  # includes the imports: less sensitive to a busy box
print(f"{elapsed:.2f} {rss_mib:.0f} {summary.overall.count} {cpu_s:.2f}")
"""


def _build(folder: Path, out: Path, package_root: Path) -> tuple[float, float, int, float]:
    """(seconds, peak RSS MiB, requests, CPU seconds) of one report built by the
    `gameday` package under `package_root`, in a fresh process (`-c` puts its cwd first on
    sys.path, so cwd picks the package)."""
    words = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(folder), str(ROOT / "slo.yaml"), str(out)],
        capture_output=True,
        text=True,
        check=True,
        cwd=package_root,
    ).stdout.split()
    return float(words[0]), float(words[1]), int(words[2]), float(words[3])


def _judged(summary_json: Path) -> dict[str, object]:
    """The whole of summary.json: verdicts, reasons, every figure and experiment."""
    summary: dict[str, object] = json.loads(summary_json.read_text())
    return summary


def main(durations: list[int], *, baseline: Path | None, rounds: int) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seconds in durations:
            folder = Path(tmp) / f"bench-{seconds}s"
            made = time.perf_counter()
            make_run(folder, seconds)
            made = time.perf_counter() - made
            size_mib = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20
            new, old = [], []
            for _ in range(rounds):
                if baseline is not None:
                    old.append(_build(folder, Path(tmp) / "old", baseline))
                new.append(_build(folder, Path(tmp) / "new", ROOT))
            t_new = statistics.median(r[0] for r in new)
            rss_new = statistics.median(r[1] for r in new)
            cpu_new = statistics.median(r[3] for r in new)
            rows.append((seconds, new[0][2], t_new, rss_new, size_mib, made))
            sys.stdout.write(
                f"{seconds:>6} s  {new[0][2]:>11,} requests  build {t_new:6.2f} s  "
                f"(CPU {cpu_new:6.2f} s)  peak RSS {rss_new:6.0f} MiB  "
                f"run dir {size_mib:6.1f} MiB  (generated in {made:.1f} s)\n"
            )
            if baseline is not None:
                t_old = statistics.median(r[0] for r in old)
                rss_old = statistics.median(r[1] for r in old)
                cpu_old = statistics.median(r[3] for r in old)
                same = _judged(Path(tmp) / "old" / "summary.json") == _judged(
                    Path(tmp) / "new" / "summary.json"
                )
                sys.stdout.write(
                    f"{'':>8}  baseline    build {t_old:6.2f} s  (CPU {cpu_old:6.2f} s)  "
                    f"peak RSS {rss_old:6.0f} MiB  -> new/baseline: time {t_new / t_old:.2f}x, "
                    f"CPU {cpu_new / cpu_old:.2f}x, memory {rss_new / rss_old:.2f}x; "
                    f"summary.json {'identical' if same else 'DIFFERS'}\n"
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("durations", nargs="*", type=int, default=[600, 3600, 21600])
    parser.add_argument("--baseline", type=Path, help="a folder holding an older gameday package")
    parser.add_argument("--rounds", type=int, default=1, help="builds per report (median)")
    args = parser.parse_args()
    main(args.durations, baseline=args.baseline, rounds=args.rounds)
