"""What gameday's Locust plugin costs a foreign Locust file, per generator core: the
same bare FastHttpUser file (bench/locustfiles/bare_fast.py, no gameday import) run by
plain Locust and by Locust with the plugin first (`-f gameday/plugin/locustfile.py,FILE
--gameday-config PATH`: HDR capture of every request, live.json every second, the run
directory at the end), as `gameday run` starts it, closed model, users sending flat out.

The generator is pinned to core 0 and the target (nginx with one worker when installed,
else the repository's cheap asyncio target, tests/integration/load/cheap_target.py) to
the last core. Rounds alternate the two (A B, A B, ...); the medians, the ratio
plugin / plain of the medians and the median of each round's ratio are printed,
measured side by side in one run.

    .venv/bin/python bench/plugin_overhead.py [--rounds 5] [--seconds 8] [--users 50]
"""

from __future__ import annotations

import argparse
import csv
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOREIGN = ROOT / "bench" / "locustfiles" / "bare_fast.py"
PLUGIN = ROOT / "gameday" / "plugin" / "locustfile.py"
NGINX_PORT = 24998
NGINX_CONF = """
daemon off; master_process off; worker_processes 1;
error_log stderr error; pid {prefix}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  server {{ listen 127.0.0.1:{port}; location / {{ return 200 "ok"; }} }}
}}
"""


@contextmanager
def target(prefix: Path, core: int) -> Iterator[tuple[str, str]]:
    """(url, what it is), the target pinned to `core`."""
    if shutil.which("nginx"):
        conf = prefix / "nginx.conf"
        conf.write_text(NGINX_CONF.format(prefix=prefix, port=NGINX_PORT))
        argv = ["taskset", "-c", str(core), "nginx", "-c", str(conf), "-p", str(prefix)]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url, what = f"http://127.0.0.1:{NGINX_PORT}", "nginx, one worker"
        _wait_for_port(NGINX_PORT)
    else:
        argv = ["taskset", "-c", str(core), sys.executable, "-m"]
        argv += ["tests.integration.load.cheap_target"]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, cwd=ROOT)
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 30.0)
        line = proc.stdout.readline().decode() if ready else ""
        assert line.startswith("ready "), f"the cheap target did not start: {line!r}"
        url, what = f"http://127.0.0.1:{int(line.split()[1])}", "cheap_target.py (asyncio)"
    try:
        yield url, what
    finally:
        proc.terminate()
        proc.wait()


def _wait_for_port(port: int) -> None:
    import socket

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"nothing listens on port {port}")


def run_locust(url: str, seconds: int, users: int, workdir: Path, *, plugin: bool) -> float:
    csv_prefix = workdir / "stats"
    argv = ["taskset", "-c", "0", sys.executable, "-m", "locust"]
    if plugin:
        from gameday.load.config import LoadConfig

        config = LoadConfig(
            scenario="bench",
            mix={"BareFast": 1},
            locustfiles=[str(FOREIGN)],
            shape="steady",
            users=users,
            spawn_rate=users,
            duration_s=seconds,
            target_url=url,
            run_dir=str(workdir),
        )
        config_file = workdir / "load-config.json"
        config_file.write_text(config.model_dump_json())
        argv += ["-f", f"{PLUGIN},{FOREIGN}", "--gameday-config", str(config_file)]
    else:
        argv += ["-f", str(FOREIGN), "-u", str(users), "-r", str(users)]
        argv += ["--run-time", f"{seconds}s"]
    argv += ["--headless", "--host", url, "--csv", str(csv_prefix), "--csv-full-history"]
    argv += ["--only-summary"]
    argv += ["--loglevel", "ERROR", "--stop-timeout", "1"]
    done = subprocess.run(
        argv, capture_output=True, text=True, check=False, cwd=ROOT, timeout=seconds + 60
    )
    if plugin and not (workdir / "generator.json").exists():
        raise SystemExit(f"the plugin wrote no run directory: {done.stderr[-2000:]}")
    return steady_rate(Path(f"{csv_prefix}_stats_history.csv"), done.stderr)


def steady_rate(history: Path, stderr: str) -> float:
    """Requests per second between the second and the next-to-last history rows: the two
    runs start and stop differently (a shape stops on its one-second tick, --run-time on
    a timer), so counts over the whole run would not compare."""
    try:
        with open(history) as f:
            rows = [r for r in csv.DictReader(f) if r["Name"] == "Aggregated"]
    except FileNotFoundError:
        raise SystemExit(f"Locust wrote no stats history: {stderr[-2000:]}") from None
    if len(rows) < 4:
        raise SystemExit(f"too short a run to measure ({len(rows)} seconds): use --seconds 5+")
    first, last = rows[1], rows[-2]
    requests = int(last["Total Request Count"]) - int(first["Total Request Count"])
    return requests / (int(last["Timestamp"]) - int(first["Timestamp"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--users", type=int, default=50)
    args = parser.parse_args()
    if shutil.which("taskset") is None:
        sys.exit("taskset is missing (util-linux)")
    cores = os.cpu_count() or 1
    names = {False: "plain Locust", True: "Locust + gameday plugin"}
    results: dict[bool, list[float]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp, target(Path(tmp), cores - 1) as (url, what):
        for round_no in range(1, args.rounds + 1):
            for plugin in (False, True):
                workdir = Path(tempfile.mkdtemp(dir=tmp))
                (workdir / "locust").mkdir()
                results[plugin].append(
                    run_locust(url, args.seconds, args.users, workdir, plugin=plugin)
                )
                rps = results[plugin][-1]
                line = f"round {round_no}/{args.rounds}  {names[plugin]:<26} {rps:>10,.0f} rps"
                print(line, file=sys.stderr, flush=True)
    medians = {plugin: statistics.median(values) for plugin, values in results.items()}
    print(
        f"\nA foreign Locust file (bench/locustfiles/bare_fast.py), per generator core "
        f"({args.rounds} rounds x {args.seconds} s, {args.users} users, closed model; "
        f"target {what} pinned to core {cores - 1}, Locust to core 0)\n"
    )
    print("| generator | median rps per core | min | max |")
    print("|---|---:|---:|---:|")
    for plugin, values in results.items():
        print(f"| {names[plugin]} | {medians[plugin]:,.0f} | {min(values):,.0f} | "
              f"{max(values):,.0f} |")  # fmt: skip
    paired = [with_ / without for with_, without in zip(results[True], results[False], strict=True)]
    print(f"\nratio plugin / plain = {medians[True] / medians[False]:.3f} (of the medians)")
    # Each round runs the two back to back: the ratio within a round cancels what the
    # machine was doing over minutes (other jobs), which the medians above do not.
    print(f"median of the per-round ratios = {statistics.median(paired):.3f} "
          f"(rounds: {', '.join(f'{r:.2f}' for r in paired)})")  # fmt: skip


if __name__ == "__main__":
    main()
