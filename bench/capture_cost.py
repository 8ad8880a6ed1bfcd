"""The capture plugin's own cost per request, without a network in the way: call
`gameday.plugin.capture.on_request` as Locust's request event would, N times, and print
microseconds per call and the top of a cProfile of it (the part of benchmark 1's
ours/bare gap that is ours to fix).

    .venv/bin/python bench/capture_cost.py [--calls 200000] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

import locust  # noqa: F401  (before our modules: it monkey-patches the standard library)

sys.path[0] = str(Path(__file__).resolve().parent.parent)

from gameday.load.config import LoadConfig  # noqa: E402
from gameday.plugin import capture  # noqa: E402


class _Response:
    status_code = 200
    request = None


def time_calls(calls: int) -> float:
    response, on_request = _Response(), capture.on_request
    started = time.perf_counter()
    for i in range(calls):
        on_request(
            "GET", "/", 0.5 + (i % 100) / 100, response=response,
            context={"request_id": "bench"}, exception=None,
        )  # fmt: skip
    return (time.perf_counter() - started) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    capture.state.config = LoadConfig(users=1, run_dir=tempfile.mkdtemp())
    per_call = [time_calls(args.calls) for _ in range(args.rounds)]
    print(f"on_request: {statistics.median(per_call):.2f} us per call (median of "
          f"{args.rounds} x {args.calls:,} calls; min {min(per_call):.2f})")  # fmt: skip
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(time_calls, args.calls)
        pstats.Stats(profile).sort_stats("tottime").print_stats(8)


if __name__ == "__main__":
    main()
