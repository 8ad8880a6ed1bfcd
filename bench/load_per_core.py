"""Load generation per core: our scenario user (HDR capture) vs a bare Locust
FastHttpUser vs a bare HttpUser vs wrk, against one trivial nginx endpoint; and the
open model (`gameday run --rate`: the plugin's arrival scheduler, HDR capture on),
scheduled above what one core can send (1.5 x the round's bare FastHttpUser rps): what
it keeps of that schedule on one core is its rate per core (goal: 0.8 of bare).

Each figure comes twice: requests per second (what the closed loops reach on core 0,
which other processes on this shared machine slow down) and requests per CPU second of
the generator's process (what one core at 100% would send; waiting for the core costs
no CPU time, so this one moves much less with the machine's load).

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
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

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


@dataclass(frozen=True)
class Measured:
    rps: float  # median requests per whole second
    per_cpu_s: float  # requests per CPU second of the generator's process, steady window


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


def run_wrk(seconds: int, users: int) -> Measured:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_before = before.ru_utime + before.ru_stime
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
    count = re.search(r"(\d+) requests in", out)
    assert match and count, out
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = used.ru_utime + used.ru_stime - cpu_before
    return Measured(rps=float(match.group(1)), per_cpu_s=int(count.group(1)) / cpu_s)


def run_locust(locustfile: str, seconds: int, users: int, workdir: Path) -> Measured:
    csv_prefix = workdir / "stats"
    env = {**os.environ, "BENCH_RUN_DIR": str(workdir)}
    return run_measured(
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
        csv_prefix,
        env=env,
        timeout_s=seconds + 60,
    )


def run_measured(
    argv: list[str], csv_prefix: Path, *, env: dict[str, str] | None = None, timeout_s: float
) -> Measured:
    """Runs one Locust process and watches it: each time Locust appends its cumulative
    history row (once a second), the process's CPU time is read (psutil, 20 ms polls). Requests
    per CPU second come from the steady rows (not the first, not the last): a figure that
    another process on the same core lowers much less than the requests per second, since
    waiting for the core costs no CPU time."""
    history = Path(f"{csv_prefix}_stats_history.csv")
    proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    seen: list[tuple[int, float]] = []  # (total requests, CPU seconds) as each row appeared
    lines = 0
    deadline = time.monotonic() + timeout_s
    try:
        watched = psutil.Process(proc.pid)
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                cpu = watched.cpu_times()
                text = history.read_text() if history.exists() else ""
            except psutil.Error:
                break
            rows = [r for r in csv.DictReader(text.splitlines()) if r["Name"] == "Aggregated"]
            if len(rows) > lines:
                lines = len(rows)
                seen.append((int(rows[-1]["Total Request Count"]), cpu.user + cpu.system))
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    counted = [(n, c) for n, c in seen if n > 0]
    # not the first row nor the last (start and stop), unless a short run has too few
    steady = counted[1:-1] if len(counted) >= 4 else counted
    per_cpu_s = (
        (steady[-1][0] - steady[0][0]) / (steady[-1][1] - steady[0][1])
        if len(steady) >= 2 and steady[-1][1] > steady[0][1]
        else float("nan")
    )
    return Measured(rps=per_second_median(csv_prefix), per_cpu_s=per_cpu_s)


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


def run_open_model(seconds: int, in_flight: int, rate: float, workdir: Path) -> Measured:
    """The harness's open model through its own plugin, as `gameday run` starts it, at
    `rate` (a share of the bare FastHttpUser's rps in the same round), at most `in_flight`
    arrivals in flight (the closed rows' connections). Scheduled above what the core can
    send, what it completes per second is the most one core sends in the open model.
    (Every arrival is then late and the slowest of its second so far: its exemplar's
    details are built only for the slowest few when the second is shipped, so that costs
    nothing per request; it cost about 50 µs each before, which made a generator that
    had fallen behind fall further.)"""
    sys.path.insert(0, str(ROOT))
    from gameday.load.config import LoadConfig

    config = LoadConfig(
        scenario="per-core",
        shape="constant-rate",
        target_rps=rate,
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
    return run_measured(
        ["taskset", "-c", "0", sys.executable, "-m", "locust", "-f", files, "--headless",
         "--gameday-config", str(config_path), "--host", config.target_url,
         "--csv", str(csv_prefix), "--only-summary", "--loglevel", "ERROR"],
        csv_prefix,
        timeout_s=seconds + 60,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument(
        "--open-share",
        type=float,
        default=1.5,
        help="the open model's schedule, as a share of the round's bare FastHttpUser rps "
        "(above 1: what one core keeps of it is the open model's rate per core)",
    )
    args = parser.parse_args()
    for tool in ("wrk", "nginx", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: run `make bench-setup` (apt-get install wrk nginx-light)")
    cores = os.cpu_count() or 1
    ours_open = f"ours, open model at {args.open_share:g} x bare FastHttpUser (gameday run --rate)"
    bare_rps: list[float] = []  # this round's bare FastHttpUser, which comes first

    def bare_fast(d: Path) -> Measured:
        measured = run_locust("bare_fast.py", args.seconds, args.users, d)
        bare_rps.append(measured.rps)
        return measured

    tools: dict[str, Callable[[Path], Measured]] = {
        "bare FastHttpUser": bare_fast,  # first: the open model's schedule comes from it
        "ours (FastHttpUser + HDR capture)": lambda d: run_locust(
            "ours.py", args.seconds, args.users, d
        ),
        ours_open: lambda d: run_open_model(
            args.seconds, args.users, args.open_share * bare_rps[-1], d
        ),
        "bare HttpUser": lambda d: run_locust("bare_http.py", args.seconds, args.users, d),
        "wrk (ceiling)": lambda d: run_wrk(args.seconds, args.users),
    }
    results: dict[str, list[Measured]] = {name: [] for name in tools}
    with tempfile.TemporaryDirectory() as tmp:
        target = start_target(Path(tmp), core=cores - 1)
        try:
            for round_no in range(1, args.rounds + 1):
                for name, measure in tools.items():
                    workdir = Path(tempfile.mkdtemp(dir=tmp))
                    results[name].append(measure(workdir))
                    print(
                        f"round {round_no}/{args.rounds}  {name:<62} "
                        f"{results[name][-1].rps:>10,.0f} rps "
                        f"{results[name][-1].per_cpu_s:>10,.0f} per CPU s",
                        file=sys.stderr,
                        flush=True,
                    )
        finally:
            target.terminate()
            target.wait()
    rps = {name: statistics.median(m.rps for m in values) for name, values in results.items()}
    per_cpu = {
        name: statistics.median(m.per_cpu_s for m in values) for name, values in results.items()
    }
    print(
        f"\nLoad generation per core ({args.rounds} rounds x {args.seconds} s, {args.users} "
        f"connections/users, target nginx pinned to core {cores - 1}, generators to core 0)\n"
    )
    print("| generator | median rps per core | min | max | median requests per CPU s |")
    print("|---|---:|---:|---:|---:|")
    for name, values in results.items():
        low, high = min(m.rps for m in values), max(m.rps for m in values)
        print(f"| {name} | {rps[name]:,.0f} | {low:,.0f} | {high:,.0f} | {per_cpu[name]:,.0f} |")
    fast = "bare FastHttpUser"
    for label, name, goal in (
        ("ours", "ours (FastHttpUser + HDR capture)", " (goal >= 0.9)"),
        ("bare HttpUser", "bare HttpUser", ""),
    ):
        print(
            f"ratio {label} / bare FastHttpUser = {rps[name] / rps[fast]:.3f} by rps, "
            f"{per_cpu[name] / per_cpu[fast]:.3f} by requests per CPU second{goal}"
        )
    kept = [o.rps / b for o, b in zip(results[ours_open], bare_rps, strict=True)]
    print(
        f"ratio ours open model / bare FastHttpUser = {statistics.median(kept):.3f} by rps"
        f" (goal >= 0.8: scheduled at {args.open_share:g} x the round's bare FastHttpUser;"
        f" rounds {min(kept):.3f}-{max(kept):.3f}), "
        f"{per_cpu[ours_open] / per_cpu[fast]:.3f} by requests per CPU second"
    )
    print(f"ratio bare FastHttpUser / wrk = {rps[fast] / rps['wrk (ceiling)']:.3f}")


if __name__ == "__main__":
    main()
