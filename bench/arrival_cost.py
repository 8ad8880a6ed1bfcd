"""The open model's hand-off cost per arrival, without a network: the plugin's
long-lived runners (`gameday.plugin.arrivals._Runners`) against a greenlet spawned per
arrival (`gevent.pool.Pool`, what the plugin used before), in one process on one core.

Each arrival is due at its time in an even schedule (the scheduler sleeps until it, as
the plugin does) and waits 2 ms (a stand-in for a request's I/O, so that arrivals
overlap). The figure is the process's CPU time per arrival; the ratio decides.

    .venv/bin/python bench/arrival_cost.py [--rate 4000] [--seconds 3] [--rounds 3]
"""

from __future__ import annotations  # noqa: I001  (locust first)

import locust  # noqa: F401  (first: it monkey-patches the standard library, as in a run)

import argparse
import statistics
import time
from typing import Any

import gevent
from gevent.pool import Pool

from gameday.plugin import arrivals

IO_S = 0.002


def _arrival(*_: Any) -> None:
    gevent.sleep(IO_S)


def _schedule(rate: float, seconds: float, hand_off: Any) -> float:
    """CPU microseconds per arrival for one schedule run through `hand_off(*arrival)`."""
    count = int(rate * seconds)
    start, cpu_before = time.monotonic(), time.process_time()
    for i in range(count):
        intended = start + i / rate
        delay = intended - time.monotonic()
        if delay > 0:
            gevent.sleep(delay)
        hand_off("kind", None, None, 0.0, intended)
    return (time.process_time() - cpu_before) / count * 1e6


def per_arrival_pool(rate: float, seconds: float) -> float:
    pool = Pool(500)
    cost = _schedule(rate, seconds, lambda *a: pool.spawn(_arrival, *a))
    pool.join()
    return cost


def per_arrival_runners(rate: float, seconds: float) -> float:
    runners = arrivals._Runners(500)
    cost = _schedule(rate, seconds, runners.submit)
    runners.drain(timeout_s=5.0)
    return cost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=4000.0)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    arrivals._arrive = _arrival  # type: ignore[assignment]  # the runners' work, stood in
    pool, runners = [], []
    for round_no in range(1, args.rounds + 1):
        pool.append(per_arrival_pool(args.rate, args.seconds))
        runners.append(per_arrival_runners(args.rate, args.seconds))
        print(f"round {round_no}: spawn per arrival {pool[-1]:.1f} µs, runners "
              f"{runners[-1]:.1f} µs of CPU per arrival", flush=True)  # fmt: skip
    before, after = statistics.median(pool), statistics.median(runners)
    print(
        f"\nOpen model hand-off at {args.rate:,.0f} arrivals/s ({args.rounds} rounds x "
        f"{args.seconds:g} s, {IO_S * 1000:g} ms each): spawn per arrival {before:.1f} µs, "
        f"long-lived runners {after:.1f} µs of CPU per arrival; ratio {after / before:.2f}"
    )


if __name__ == "__main__":
    main()
