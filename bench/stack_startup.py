"""Stack start-up: wall time of each component and of the whole stack, and the
resident memory of each component after start (its whole process group).

It runs a private stack (own state dir and ports, so a running one is left
alone), `rounds` times from cold, and prints medians.

    .venv/bin/python bench/stack_startup.py [--rounds 3] [--search-nodes 1]
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from gameday.settings import StackSettings
from gameday.stack import process, supervisor

PORTS: dict[str, Any] = dict(
    toxiproxy_port=24574,
    postgres_port=24532,
    postgres_proxy_port=24542,
    redis_port=24579,
    redis_proxy_port=24589,
    rabbitmq_port=24772,
    rabbitmq_proxy_port=24782,
    rabbitmq_dist_port=24773,
    epmd_port=24569,
    opensearch_port=24250,
    opensearch_proxy_port=24260,
    opensearch_transport_port=24350,
    service_port=24180,
    api_proxy_port=24190,
    prometheus_port=24591,
)


def group_rss_mib(pgid: int) -> float:
    total_kib = 0
    for pid in process.group_members(pgid):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        total_kib += int(match.group(1)) if match else 0
    return total_kib / 1024


def one_round(search_nodes: int) -> tuple[float, dict[str, float], dict[str, float]]:
    with tempfile.TemporaryDirectory() as state:
        settings = StackSettings(state_dir=Path(state), search_nodes=search_nodes, **PORTS)
        healthy_after: dict[str, float] = {}
        started = time.monotonic()

        def note(line: str) -> None:
            match = re.match(r"(\S+)\s+healthy in ([\d.]+)s", line)
            if match:
                healthy_after[match.group(1)] = float(match.group(2))

        total = supervisor.up(settings, note)
        rss = {}
        for name in healthy_after:
            tracked = process.read_tracked(settings.run_dir, name)
            if tracked is not None:
                rss[name] = group_rss_mib(tracked.pid)
        supervisor.down(settings, lambda line: None, purge=True)
        del started
        return total, healthy_after, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--search-nodes", type=int, default=1)
    args = parser.parse_args()
    totals: list[float] = []
    times: dict[str, list[float]] = {}
    memory: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        total, healthy_after, rss = one_round(args.search_nodes)
        totals.append(total)
        for name, value in healthy_after.items():
            times.setdefault(name, []).append(value)
        for name, value in rss.items():
            memory.setdefault(name, []).append(value)
    print(
        f"Stack start from cold ({args.rounds} rounds, medians, "
        f"{args.search_nodes} search node(s))\n"
    )
    print("| component | healthy after start (s) | resident memory (MiB, process group) |")
    print("|---|---:|---:|")
    for name in times:
        print(
            f"| {name} | {statistics.median(times[name]):.1f} | "
            f"{statistics.median(memory.get(name, [0.0])):.0f} |"
        )
    print(
        f"| **whole stack** (`gameday stack up`) | {statistics.median(totals):.1f} | "
        f"{sum(statistics.median(v) for v in memory.values()):.0f} |"
    )


if __name__ == "__main__":
    main()
