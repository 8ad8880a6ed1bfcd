"""Master-side cost of merging worker reports, per worker count.

Each simulated worker sends, once per second, what `Recorder.take_delta()`
produces for a busy second: one encoded HdrHistogram per endpoint (5
endpoints, 2,000 requests each). The master's `Store.merge` is timed for
1, 10, 50 and 100 workers; the CPU share of one master core it needs follows,
and so does the largest worker count one core sustains (at 100% CPU).

    .venv/bin/python bench/histogram_merge.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from typing import Any

from gameday.load.capture_model import Recorder, Store

ENDPOINTS = [
    "GET /v1/search",
    "GET /v1/autocomplete",
    "GET /v1/documents/{id}",
    "POST /v1/documents",
    "PUT /v1/documents/{id}",
]
REQUESTS_PER_ENDPOINT = 2_000


def worker_report(seed: int, second: int) -> dict[str, Any]:
    rng = random.Random(seed)
    recorder = Recorder()
    for endpoint in ENDPOINTS:
        for _ in range(REQUESTS_PER_ENDPOINT):
            recorder.record(
                second=second,
                endpoint=endpoint,
                latency_ms=rng.lognormvariate(3.0, 0.8),
                failure_kind=None,
                request_id="r",
                exemplar=lambda: {"status": 200},
            )
    return recorder.take_delta()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    reports = [worker_report(seed, 1000) for seed in range(20)]  # reused, as encoded bytes
    print("| workers | merge time per second (median) | share of one master core |")
    print("|---:|---:|---:|")
    per_worker_s = []
    for workers in (1, 10, 50, 100):
        timings = []
        for _ in range(args.rounds):
            store = Store()
            started = time.process_time()
            for w in range(workers):
                store.merge(reports[w % len(reports)], f"w{w}")
            timings.append(time.process_time() - started)
        median = statistics.median(timings)
        per_worker_s.append(median / workers)
        print(f"| {workers} | {median * 1000:,.1f} ms | {median:.1%} |")
    cost = statistics.median(per_worker_s)
    print(
        f"\nmerge cost per worker report: {cost * 1000:.2f} ms "
        f"({len(ENDPOINTS)} endpoints x {REQUESTS_PER_ENDPOINT:,} requests)"
    )
    print(
        f"workers one master core sustains at one report per worker per second: "
        f"{int(1 / cost):,}; Locust reports every 3 s, so {int(3 / cost):,}"
    )


if __name__ == "__main__":
    main()
