"""Distribution for real on one machine (issue 17, goal 4): `gameday run --workers 32`
of the reference profile's `liveness` mix (GET /health/live: the service's cheapest
route, so the harness's own cost shows), the master merging every worker's histograms.

It prints, from one run:
- the counts: the workers' own (locust/worker-count-*.json, written as each quits), the
  master's merge (generator.json), the report's (summary.json), and the plan (rate x
  duration); they must be equal;
- the clock: how long the master waited for every worker to be ready, and how far
  apart the workers' clocks started;
- the master's CPU per second over the load (generator.json `master_cpu_pct`) beside
  what merging the same reports costs in this process (the merge micro-benchmark:
  `Store.merge` and `LiveTotals.add` on deltas shaped as this run's, timed here, right
  after the run), and the workers' highest CPU share;
- the box's load (1-minute load average) before and after.

With `--kill-one-at S` it SIGKILLs one worker S seconds into the load and prints the
run's verdict and the generator's reasons (the run must be invalid, "1 worker(s) lost").

    export GAMEDAY_KEEP_STACK=1   # the stack must be up (gameday stack up)
    flock -s /tmp/coord/stack.lock .venv/bin/python bench/distributed.py \\
        --workers 32 --rate 320 --duration 30s
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from gameday.load.capture_model import Recorder, Store
from gameday.load.live_metrics import LiveTotals
from gameday.timespan import parse_timespan

ROOT = Path(__file__).resolve().parents[1]
LENIENT = ROOT / "tests" / "data" / "slo-lenient.yaml"
REPORT_INTERVAL_S = 3.0  # Locust's WORKER_REPORT_INTERVAL
ENDPOINT = "GET /health/live"


def run(args: argparse.Namespace, out: Path) -> tuple[int, float]:
    argv = [sys.executable, "-m", "gameday.cli", "run", "--slo", str(LENIENT)]
    argv += ["--scenario", "liveness", "--rate", str(args.rate), "--duration", args.duration]
    argv += ["--workers", str(args.workers), "--out", str(out)]
    started = time.monotonic()
    with open(out.parent / "gameday-run.log", "wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        if args.kill_one_at is not None:
            _kill_one_worker(process, out, args.kill_one_at)
        returncode = process.wait(timeout=parse_timespan(args.duration) + 300)
    return returncode, time.monotonic() - started


def _kill_one_worker(process: subprocess.Popen[bytes], out: Path, at_s: float) -> None:
    """SIGKILL one Locust worker once the load's clock has run at_s seconds."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        try:
            start = float(json.loads((out / "live.json").read_text())["start_epoch"])
        except (FileNotFoundError, ValueError, KeyError):
            start = None
        if start is not None and time.time() - start >= at_s:
            workers = [
                p
                for p in psutil.Process(process.pid).children(recursive=True)
                if "--worker" in p.cmdline()
            ]
            workers[0].send_signal(signal.SIGKILL)
            print(f"killed worker pid {workers[0].pid} at t={time.time() - start:.1f} s")
            return
        time.sleep(0.2)


def merge_cost_per_s(workers: int, rate_rps: float, rounds: int = 5) -> float:
    """The CPU seconds per second of load that merging this run's worker reports costs:
    each worker reports every REPORT_INTERVAL_S its requests of those seconds (one
    endpoint), the master merges them into the store and the live totals."""
    per_worker_rps = rate_rps / workers
    deltas = []
    rng = random.Random(17)
    for w in range(workers):
        recorder = Recorder()
        for second in range(int(REPORT_INTERVAL_S)):
            for _ in range(round(per_worker_rps)):
                recorder.record(
                    second=1_000 + second,
                    endpoint=ENDPOINT,
                    latency_ms=rng.lognormvariate(1.0, 0.5),
                    failure_kind=None,
                    request_id=f"w{w}",
                    exemplar=lambda: {"status": 200},
                )
        deltas.append(recorder.take_delta())
    timings = []
    for _ in range(rounds):
        store, totals = Store(), LiveTotals()
        started = time.process_time()
        for w, delta in enumerate(deltas):
            store.merge(delta, f"w{w}")
            totals.add(delta)
        timings.append(time.process_time() - started)
    one_round_s = sorted(timings)[len(timings) // 2]  # every worker's report, once
    return one_round_s / REPORT_INTERVAL_S


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--rate", type=float, default=320.0)
    parser.add_argument("--duration", default="30s")
    parser.add_argument("--kill-one-at", type=float, default=None, metavar="S")
    args = parser.parse_args()
    os.environ.setdefault("GAMEDAY_KEEP_STACK", "1")
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-distributed-") as tmp:
        out = Path(tmp) / "run"
        returncode, wall_s = run(args, out)
        load_after = os.getloadavg()[0]
        generator: dict[str, Any] = json.loads((out / "generator.json").read_text())
        counts = [json.loads(p.read_text()) for p in (out / "locust").glob("worker-count-*.json")]
        summary: dict[str, Any] = json.loads((out / "summary.json").read_text())
        tail = (out.parent / "gameday-run.log").read_text(errors="replace")[-400:]
    merge_s = merge_cost_per_s(args.workers, args.rate)
    duration_s = parse_timespan(args.duration)
    planned = round(args.rate * duration_s)
    workers_sum = sum(int(c["requests"]) for c in counts)
    starts = [float(c["start_epoch"]) for c in counts if c["start_epoch"] is not None]
    master_cpu = generator.get("master_cpu_pct")
    master_s = (master_cpu or 0.0) / 100.0  # CPU seconds per second of load
    ratio = merge_s / master_s if master_s else float("nan")
    start = float(generator["start_epoch"])
    print(
        f"gameday run --scenario liveness --workers {args.workers} --rate {args.rate:g} "
        f"--duration {args.duration}: exit {returncode}, verdict {summary['verdict']}, "
        f"{wall_s:.0f} s wall"
    )
    print()
    print("| count | requests |")
    print("|---|---:|")
    print(f"| planned (rate x duration) | {planned:,} |")
    print(f"| workers' own, summed ({len(counts)} files) | {workers_sum:,} |")
    print(f"| master's merge (generator.json) | {generator['total_requests']:,} |")
    print(f"| report's (summary.json) | {summary['overall']['count']:,} |")
    print()
    if starts:
        print(
            f"clock: waited {generator['ready_wait_s']} s for every worker to be ready; "
            f"workers' clocks started {1000 * (min(starts) - start):.1f} "
            f"to {1000 * (max(starts) - start):.1f} ms after the master's"
        )
    print(
        f"master CPU over the load: {master_cpu}% of a core "
        f"= {master_s:.4f} CPU s per s; merging the same reports here: "
        f"{merge_s:.5f} CPU s per s (merge / master = {ratio:.2f})"
    )
    print(
        f"workers: highest CPU share {generator['max_worker_cpu_pct']}% of a core "
        f"(CPU seconds over >= 1 s spans), lost {generator['workers_lost']}, "
        f"never connected {generator['workers_never_connected']}, "
        f"not ready {generator['workers_not_ready']}"
    )
    print(f"generator valid: {generator['valid']}; reasons: {generator['reasons']}")
    print(
        f"box: {os.cpu_count()} cores, 1-min load {load_before:.2f} before, {load_after:.2f} after"
    )
    if returncode not in (0, 1) and args.kill_one_at is None:
        print(tail)


if __name__ == "__main__":
    main()
