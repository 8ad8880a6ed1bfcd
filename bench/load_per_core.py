"""Load generation per core: our scenario user (HDR capture) vs a bare Locust
FastHttpUser vs a bare HttpUser vs wrk, against one trivial nginx endpoint; and the
open model (`gameday run --rate`: the plugin's arrival scheduler, HDR capture on)
scheduled far above what one core can send, so what it achieves is its rate per core.

The target (nginx, one worker) is pinned to the last core and every generator
to core 0, so each figure is requests per second for one generator core.
Rounds alternate the tools (A B C D, A B C D, ...) and the medians are
reported, with the ratio ours / bare FastHttpUser.

    .venv/bin/python bench/load_per_core.py [--rounds 5] [--seconds 5] [--users 50]
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILES = ROOT / "bench" / "locustfiles"
PORT = 24999

NGINX_CONF = """
daemon off; master_process off; worker_processes 1;
error_log stderr error; pid {prefix}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  server {{ listen 127.0.0.1:{port}; location / {{ return 200 "ok"; }} }}
}}
"""


def start_target(prefix: Path, core: int) -> subprocess.Popen[bytes]:
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(prefix=prefix, port=PORT))
    proc = subprocess.Popen(
        ["taskset", "-c", str(core), "nginx", "-c", str(conf), "-p", str(prefix)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    return proc


def run_wrk(seconds: int, users: int) -> float:
    out = subprocess.run(
        [
            "taskset",
            "-c",
            "0",
            "wrk",
            "-t1",
            f"-c{users}",
            f"-d{seconds}s",
            f"http://127.0.0.1:{PORT}/",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert match, out
    return float(match.group(1))


def run_locust(locustfile: str, seconds: int, users: int, workdir: Path) -> float:
    csv_prefix = workdir / "stats"
    env = {**os.environ, "BENCH_RUN_DIR": str(workdir)}
    subprocess.run(
        [
            "taskset",
            "-c",
            "0",
            sys.executable,
            "-m",
            "locust",
            "-f",
            str(LOCUSTFILES / locustfile),
            "--headless",
            "-u",
            str(users),
            "-r",
            str(users),
            "--run-time",
            f"{seconds}s",
            "--host",
            f"http://127.0.0.1:{PORT}",
            "--csv",
            str(csv_prefix),
            "--only-summary",
            "--loglevel",
            "ERROR",
            "--stop-timeout",
            "1",
        ],
        env=env,
        capture_output=True,
        check=False,
        cwd=ROOT,
        timeout=seconds + 60,
    )
    return per_second_median(csv_prefix)


def per_second_median(csv_prefix: Path) -> float:
    """The median of the requests completed in each whole second, from Locust's own
    history (one cumulative row a second), without the first second (users spawning,
    the scheduler starting) and the last (stopping). A count over the run time instead
    charges that start and stop to the rate: 25% less here for the bare FastHttpUser."""
    with open(f"{csv_prefix}_stats_history.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["Name"] == "Aggregated"]
    totals = [(int(r["Timestamp"]), int(r["Total Request Count"])) for r in rows]
    pairs = itertools.pairwise(totals)
    rates = [(n1 - n0) / (t1 - t0) for (t0, n0), (t1, n1) in pairs if t1 > t0]
    rates = [r for r in rates[1:-1] if r > 0] or rates
    return statistics.median(rates)


def run_open_model(seconds: int, in_flight: int, workdir: Path) -> float:
    """The harness's open model through its own plugin, as `gameday run` starts it, at a
    schedule no core can keep (100,000 rps), at most `in_flight` arrivals in flight (the
    closed rows' connections): the median of the requests it completed per whole second."""
    sys.path.insert(0, str(ROOT))
    from gameday.load.config import LoadConfig

    config = LoadConfig(
        scenario="per-core",
        shape="constant-rate",
        target_rps=100_000,
        duration_s=seconds,
        target_url=f"http://127.0.0.1:{PORT}",
        run_dir=str(workdir),
        mix={"Hit": 1},
        max_in_flight=in_flight,
    )
    config_path = workdir / "load-config.json"
    config_path.write_text(config.model_dump_json())
    csv_prefix = workdir / "stats"
    files = f"{ROOT / 'gameday/plugin/locustfile.py'},{LOCUSTFILES / 'open_target.py'}"
    subprocess.run(
        ["taskset", "-c", "0", sys.executable, "-m", "locust", "-f", files, "--headless",
         "--gameday-config", str(config_path), "--host", config.target_url,
         "--csv", str(csv_prefix), "--only-summary", "--loglevel", "ERROR"],
        capture_output=True, check=False, cwd=ROOT, timeout=seconds + 60,
    )  # fmt: skip
    return per_second_median(csv_prefix)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--users", type=int, default=50)
    args = parser.parse_args()
    for tool in ("wrk", "nginx", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: run `make bench-setup` (apt-get install wrk nginx-light)")
    cores = os.cpu_count() or 1
    tools: dict[str, Callable[[Path], float]] = {
        "ours (FastHttpUser + HDR capture)": lambda d: run_locust(
            "ours.py", args.seconds, args.users, d
        ),
        "ours, open model (gameday run --rate: scheduler + HDR capture)": lambda d: run_open_model(
            args.seconds, args.users, d
        ),
        "bare FastHttpUser": lambda d: run_locust("bare_fast.py", args.seconds, args.users, d),
        "bare HttpUser": lambda d: run_locust("bare_http.py", args.seconds, args.users, d),
        "wrk (ceiling)": lambda d: run_wrk(args.seconds, args.users),
    }
    results: dict[str, list[float]] = {name: [] for name in tools}
    with tempfile.TemporaryDirectory() as tmp:
        target = start_target(Path(tmp), core=cores - 1)
        try:
            for round_no in range(1, args.rounds + 1):
                for name, measure in tools.items():
                    workdir = Path(tempfile.mkdtemp(dir=tmp))
                    results[name].append(measure(workdir))
                    print(
                        f"round {round_no}/{args.rounds}  {name:<62} "
                        f"{results[name][-1]:>10,.0f} rps",
                        file=sys.stderr,
                        flush=True,
                    )
        finally:
            target.terminate()
            target.wait()
    medians = {name: statistics.median(values) for name, values in results.items()}
    print(
        f"\nLoad generation per core ({args.rounds} rounds x {args.seconds} s, {args.users} "
        f"connections/users, target nginx pinned to core {cores - 1}, generators to core 0)\n"
    )
    print("| generator | median rps per core | min | max |")
    print("|---|---:|---:|---:|")
    for name, values in results.items():
        print(f"| {name} | {medians[name]:,.0f} | {min(values):,.0f} | {max(values):,.0f} |")
    ours, fast = medians["ours (FastHttpUser + HDR capture)"], medians["bare FastHttpUser"]
    print(f"\nratio ours / bare FastHttpUser = {ours / fast:.3f} (goal >= 0.9)")
    open_model = medians["ours, open model (gameday run --rate: scheduler + HDR capture)"]
    print(f"ratio ours open model / bare FastHttpUser = {open_model / fast:.3f} (goal >= 0.8)")
    print(f"ratio bare FastHttpUser / wrk = {fast / medians['wrk (ceiling)']:.3f}")
    print(f"ratio bare HttpUser / bare FastHttpUser = {medians['bare HttpUser'] / fast:.3f}")


if __name__ == "__main__":
    main()
