"""What a full garbage collection stops a service worker for, with its startup heap
frozen (service.main.freeze_startup_heap, what the service does) and without, side by
side in one process: the service's modules imported and its app built, as a worker
holds them after startup. A full collection runs with the event loop stopped, so its
pause is added to every request in flight.

    .venv/bin/python bench/gc_pause.py [--collections 30]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # bench/service.py shadows service

from service.main import create_app, freeze_startup_heap  # noqa: E402


def full_collection_ms(collections: int) -> float:
    """The median pause of ``collections`` full collections, in ms (back to back, so the
    heap is in the CPU's caches: a worker's real one, mid-traffic, was 4-5x longer)."""
    pauses = []
    for _ in range(collections):
        started = time.perf_counter()
        gc.collect()
        pauses.append((time.perf_counter() - started) * 1000)
    return statistics.median(pauses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--collections", type=int, default=30)
    args = parser.parse_args()
    app = create_app()  # noqa: F841 - kept alive: its routes and clients are the heap
    tracked = len(gc.get_objects())
    rounds = []
    for _ in range(3):  # alternating, so a noisy moment hits both sides
        gc.unfreeze()
        thawed = full_collection_ms(args.collections)
        frozen_count = freeze_startup_heap()
        frozen = full_collection_ms(args.collections)
        rounds.append((thawed, frozen))
    gc.unfreeze()
    print(f"objects tracked after startup: {tracked:,}; frozen by the service: {frozen_count:,}")
    print(f"{'round':>5} {'thawed ms':>10} {'frozen ms':>10}")
    for i, (thawed, frozen) in enumerate(rounds, 1):
        print(f"{i:>5} {thawed:>10.3f} {frozen:>10.4f}")
    thawed, frozen = (statistics.median(side) for side in zip(*rounds, strict=True))
    print(f"a full collection: {thawed:.3f} ms thawed, {frozen:.4f} ms frozen (medians)")


if __name__ == "__main__":
    main()
