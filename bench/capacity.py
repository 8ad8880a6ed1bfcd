"""Benchmark: the reference stack's capacity at SLO, before and after a change, measured
the same way in one run.

Two copies of the service run side by side on free ports, each the stack's own command
line (`gameday.stack.service.uvicorn_argv`, the stack's worker count) against the
running stack's dependencies and data: ``--baseline DIR`` (an exported older checkout,
label "before") and this checkout ("after"). `gameday capacity` from this checkout (the
same generator for both) searches each in turn, alternating before/after for
``--rounds`` rounds, and the capacities, their intervals and how sure each is are
printed with the ratio after/before.

    git archive <commit> service gameday | tar -x -C /tmp/before
    .venv/bin/python bench/capacity.py --baseline /tmp/before \\
        --scenario search_mix --start-rate 50 --max-rate 1600 --step-duration 15s

The generator shares the machine's cores with the service, as in the issue's figure
(187.5 rps on 2 cores): capacity here is the whole box's, not the service's alone.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench._private_service import free_port, start_process, stop, wait_ready  # noqa: E402
from gameday.settings import PROJECT_ROOT, StackSettings  # noqa: E402
from gameday.stack.service import uvicorn_argv  # noqa: E402
from gameday.stack.service_env import service_env  # noqa: E402


def start(root: Path, stack: StackSettings, log: Path) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    argv = uvicorn_argv("127.0.0.1", port, workers=stack.service_workers)
    proc = start_process(argv, {**os.environ, **service_env(stack)}, root, log)
    url = f"http://127.0.0.1:{port}"
    wait_ready(f"{url}/openapi.json", proc)
    return url, proc


def search(url: str, out: Path, args: argparse.Namespace) -> dict[str, object]:
    argv = [sys.executable, "-m", "gameday.cli", "capacity", "--scenario", args.scenario]
    argv += ["--target", url, "--out", str(out), "--start-rate", str(args.start_rate)]
    argv += ["--max-rate", str(args.max_rate), "--step-duration", args.step_duration]
    argv += ["--repeats", str(args.repeats)]
    done = subprocess.run(argv, cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)
    print(f"    {done.stdout.strip().splitlines()[-2] if done.stdout.strip() else done.stderr}")
    result: dict[str, object] = json.loads((out / "capacity.json").read_text())
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, required=True, help="an older checkout")
    parser.add_argument("--scenario", default="search_mix")
    parser.add_argument("--start-rate", type=float, default=50)
    parser.add_argument("--max-rate", type=float, default=1600)
    parser.add_argument("--step-duration", default="15s")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    if not (args.baseline / "service" / "main.py").exists():
        sys.exit(f"--baseline {args.baseline}: no service/main.py there; export one with "
                 "`git archive <commit> service gameday | tar -x -C DIR`")  # fmt: skip
    stack = StackSettings()
    work = Path(tempfile.mkdtemp(prefix="bench-capacity-"))
    procs: list[subprocess.Popen[bytes]] = []
    found: dict[str, list[dict[str, object]]] = {"before": [], "after": []}
    try:
        urls = {}
        for label, root in (("before", args.baseline.resolve()), ("after", PROJECT_ROOT)):
            urls[label], proc = start(root, stack, work / f"{label}.log")
            procs.append(proc)
        for round_ in range(1, args.rounds + 1):
            for label in ("before", "after"):
                print(f"round {round_}, {label} ({urls[label]}):", flush=True)
                found[label].append(search(urls[label], work / f"{label}-{round_}", args))
    finally:
        stop(procs)
    print(f"\ncapacity of {args.scenario} at SLO, {stack.service_workers} service workers, "
          f"{args.step_duration} steps, --repeats {args.repeats} (runs in {work})")  # fmt: skip
    print("| service | round | capacity rps | first failing rps | held | failed | monotonic |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for label, results in found.items():
        for round_, r in enumerate(results, start=1):
            held, failed = r.get("capacity_confidence"), r.get("failing_confidence")
            print(f"| {label} | {round_} | {r['capacity_rps']} | {r['first_failing_rps']} | "
                  f"{_pct(held)} | {_pct(failed)} | {r.get('monotonic')} |")  # fmt: skip
    before = [float(str(r["capacity_rps"])) for r in found["before"] if r["capacity_rps"]]
    after = [float(str(r["capacity_rps"])) for r in found["after"] if r["capacity_rps"]]
    if before and after:
        print(f"\nratio after / before (capacity, mean of rounds) = "
              f"{sum(after) / len(after) / (sum(before) / len(before)):.2f}")  # fmt: skip


def _pct(value: object) -> str:
    return "–" if value is None else f"{float(str(value)):.0%} sure"


if __name__ == "__main__":
    main()
