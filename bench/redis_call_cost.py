"""What one Redis call costs the service's client in CPU: redis-py's asyncio client on
uvloop, sequential GETs of one small key against the stack's Redis (straight, not through
its proxy), with `socket_timeout` set (as the service sets it: every call's backstop) and
without it, in alternating rounds. The CPU time per GET is this process's
(`time.process_time`), so the Redis server's own work is left out.

    .venv/bin/python bench/redis_call_cost.py [--calls 5000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import redis.asyncio as aioredis
import redis.exceptions
import uvloop

from gameday.settings import StackSettings

KEY = "gameday-bench:redis-call-cost"


async def cpu_us_per_get(url: str, socket_timeout: float | None, calls: int) -> float:
    client = aioredis.Redis.from_url(url, socket_timeout=socket_timeout)
    try:
        await client.set(KEY, b"1")
        for _ in range(200):  # the connection made, the code paths warm
            await client.get(KEY)
        started = time.process_time()
        for _ in range(calls):
            await client.get(KEY)
        return (time.process_time() - started) / calls * 1e6
    finally:
        await client.delete(KEY)
        await client.aclose()


async def measure(url: str, calls: int, rounds: int) -> None:
    with_timeout, without = [], []
    for round_no in range(1, rounds + 1):
        with_timeout.append(await cpu_us_per_get(url, 1.0, calls))
        without.append(await cpu_us_per_get(url, None, calls))
        print(f"round {round_no}: socket_timeout=1.0 {with_timeout[-1]:.1f} µs, "
              f"none {without[-1]:.1f} µs of CPU per GET", flush=True)  # fmt: skip
    a, b = statistics.median(with_timeout), statistics.median(without)
    print(
        f"\nredis-py asyncio GET, CPU per call (medians of {rounds} x {calls:,}): "
        f"{a:.1f} µs with socket_timeout, {b:.1f} µs without; the send's task costs "
        f"{a - b:.1f} µs (ratio {b / a:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    stack = StackSettings()
    url = f"redis://127.0.0.1:{stack.redis_port}/0"
    try:
        uvloop.run(measure(url, args.calls, args.rounds))
    except redis.exceptions.ConnectionError as exc:
        sys.exit(f"cannot reach the stack's Redis at {url} ({exc}): run `gameday stack up`")


if __name__ == "__main__":
    main()
