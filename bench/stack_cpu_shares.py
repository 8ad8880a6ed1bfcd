"""Where the machine's CPU goes while a command runs: CPU seconds per part of the local
stack (OpenSearch, the service, the generator, ...), sampled from /proc every half
second so that processes that end before the command does (Locust's) still count.

    .venv/bin/python bench/stack_cpu_shares.py -- \\
        .venv/bin/gameday run --scenario search_mix --rate 200 --duration 30s

Issue 17, goal 6 uses it to bound what the service's own work can buy: at the rate
that still held its SLOs, the share the other parts take of the cores is what a
service costing nothing would leave to grow into. A process counts with its nearest
ancestor that names a part (a uvicorn worker with the service, Locust's workers with
the generator).
"""

from __future__ import annotations

import argparse
import subprocess
import threading
import time
from collections.abc import Callable

import psutil

# first match wins, on the process or its nearest matching ancestor
PARTS: dict[str, Callable[[str], bool]] = {
    "opensearch": lambda c: c.startswith("java"),
    "indexer": lambda c: "-m service.indexer" in c,
    "service": lambda c: "-m service " in c,
    "generator": lambda c: "locust" in c,
    "postgres": lambda c: "postgres" in c.split(" ")[0],
    "redis": lambda c: "redis-server" in c,
    "rabbitmq": lambda c: "beam" in c or "erl_child" in c or "epmd" in c,
    "prometheus": lambda c: "prometheus" in c.split(" ")[0],
    "toxiproxy": lambda c: "toxiproxy" in c,
    "gameday (engine, chaos, report)": lambda c: "gameday" in c,
}


def part_of(process: psutil.Process) -> str:
    try:
        chain = [process, *process.parents()]
    except psutil.Error:
        chain = [process]
    for candidate in chain:
        try:
            command = " ".join(candidate.cmdline())
        except psutil.Error:
            continue
        for name, matches in PARTS.items():
            if matches(command):
                return name
    return "other"


def snapshot() -> dict[int, tuple[str, float]]:
    """pid -> (its part, its CPU seconds so far)."""
    seen: dict[int, tuple[str, float]] = {}
    for process in psutil.process_iter():
        try:
            times = process.cpu_times()
            seen[process.pid] = (part_of(process), times.user + times.system)
        except psutil.Error:
            continue
    return seen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs=argparse.REMAINDER, help="after --: what to run")
    args = parser.parse_args()
    command = [c for c in args.command if c != "--"]
    if not command:
        parser.error("name the command to measure after --")
    before = snapshot()
    latest = dict(before)
    done = threading.Event()

    def record() -> None:
        for pid, (part, cpu_s) in snapshot().items():
            # a process keeps the part it was first seen with: one that is exiting has
            # no command line left and would count with its parent
            latest[pid] = (latest.get(pid, (part, 0.0))[0], cpu_s)

    def sample() -> None:
        while not done.is_set():
            record()
            done.wait(0.5)

    started = time.monotonic()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    code = subprocess.call(command)
    done.set()
    sampler.join()
    record()
    wall_s = time.monotonic() - started
    used: dict[str, float] = {}
    for pid, (part, cpu_s) in latest.items():
        used[part] = used.get(part, 0.0) + cpu_s - before.get(pid, (part, 0.0))[1]
    total = sum(used.values())
    cores = psutil.cpu_count() or 1
    print(f"wall {wall_s:.1f} s, CPU {total:.1f} s = {total / wall_s:.2f} of {cores} cores")
    for part, cpu_s in sorted(used.items(), key=lambda kv: -kv[1]):
        print(f"{part:32s} {cpu_s:7.1f} s  {cpu_s / total:6.1%}  {cpu_s / wall_s:5.2f} cores")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
