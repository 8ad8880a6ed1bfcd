"""Benchmark 3: the reference service's throughput and latency next to its ceilings.

A private service (own ports in 24000-24999, own namespace; the shared one at :28080
is never touched) is seeded, then for every cell (target x endpoint):
  1. saturation: wrk, closed loop, `--connections` connections, `--seconds` per round;
  2. latency: fixed-rate requests at 50% and 70% of that cell's median saturation,
     P50/P95/P99 counted from when each request was due (bench/fixed_rate.py).
The cells run interleaved (A B C ..., A B C ...) for `--rounds` rounds; medians shown.

Targets: the service with 1 and 2 uvicorn workers, uvloop+httptools vs asyncio+h11;
bare FastAPI (JSONResponse, ORJSONResponse) and bare Starlette under the same settings.
``--baseline [LABEL=]DIR`` (repeatable) adds the service's code from another checkout
(1 worker, uvloop; label "before" by default) to the same interleaved rounds, for
before/after ratios measured side by side; ``--only`` keeps the targets whose name
contains one of its comma-separated words.

    .venv/bin/python bench/service.py [--rounds 5] [--seconds 3] [--docs 5000]
    git archive <commit> service gameday | tar -x -C /tmp/before
    .venv/bin/python bench/service.py --baseline /tmp/before --only "1w uvloop" --no-latency
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

# This file is bench/service.py: with bench/ first on sys.path it would shadow the
# `service` package, so the path starts at the project root instead.
sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench._private_service import (  # noqa: E402
    free_port,
    issue_token,
    namespace_env,
    start_indexer,
    start_uvicorn,
    stop,
    wait_ready,
)
from bench.fixed_rate import measure  # noqa: E402
from gameday.corpus import Vocabulary  # noqa: E402
from gameday.settings import PROJECT_ROOT, StackSettings  # noqa: E402
from service.namespace import drop_namespace  # noqa: E402

LUA = PROJECT_ROOT / "bench" / "wrk" / "service.lua"
SERVICE_MODES = ("cached", "uncached", "write", "autocomplete")
BASELINE = "service 1w uvloop ({})"


@dataclass(frozen=True)
class Target:
    name: str
    app: str
    workers: int
    loop: str
    http: str
    root: Path = PROJECT_ROOT

    @property
    def is_service(self) -> bool:
        return self.app.startswith("service.")


TARGETS = [
    Target("service 2w uvloop (default)", "service.main:create_app", 2, "uvloop", "httptools"),
    Target("service 1w uvloop", "service.main:create_app", 1, "uvloop", "httptools"),
    Target("service 1w asyncio/h11", "service.main:create_app", 1, "asyncio", "h11"),
    Target("FastAPI json 1w uvloop", "bench.bare_apps:fastapi_json_app", 1, "uvloop", "httptools"),
    Target(
        "FastAPI orjson 1w uvloop", "bench.bare_apps:fastapi_orjson_app", 1, "uvloop", "httptools"
    ),
    Target("Starlette 1w uvloop", "bench.bare_apps:starlette_app", 1, "uvloop", "httptools"),
    Target("FastAPI json 1w asyncio/h11", "bench.bare_apps:fastapi_json_app", 1, "asyncio", "h11"),
    Target("Starlette 1w asyncio/h11", "bench.bare_apps:starlette_app", 1, "asyncio", "h11"),
    Target("FastAPI json 2w uvloop", "bench.bare_apps:fastapi_json_app", 2, "uvloop", "httptools"),
    Target("Starlette 2w uvloop", "bench.bare_apps:starlette_app", 2, "uvloop", "httptools"),
]


def make_requests(mode: str, token: str, words: list[str]) -> Callable[[int], bytes]:
    """The same requests as bench/wrk/service.lua, as raw HTTP/1.1 bytes."""
    rng = random.Random(7)
    auth = f"Authorization: Bearer {token}\r\nX-Synthetic: gameday-bench\r\n"

    def get(path: str) -> bytes:
        return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n".encode()

    def build(index: int) -> bytes:
        if mode == "cached":
            return get(f"/v1/search?q={words[0]}")
        if mode == "uncached":
            return get(
                f"/v1/search?q={rng.choice(words)}+{rng.choice(words)}&page={rng.randint(1, 3)}"
            )
        if mode == "autocomplete":
            word = rng.choice(words)
            return get(f"/v1/autocomplete?prefix={word[: rng.randint(2, len(word))]}")
        if mode == "write":
            body = json.dumps(
                {
                    "title": f"bench {rng.choice(words)} {index}",
                    "body": " ".join(rng.choices(words, k=3)),
                    "tags": ["bench"],
                }
            )
            return (
                f"POST /v1/documents HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                f"{body}"
            ).encode()
        return b"GET /json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

    return build


def cpu_s(group: int) -> float:
    """CPU seconds (user + system) so far of every process in a process group: one
    uvicorn started with start_new_session, its workers included."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # the process ended meanwhile
            continue
        if int(fields[2]) == group:  # pgrp; utime and stime follow at 11 and 12
            total += int(fields[11]) + int(fields[12])
    return total / tick


def run_wrk(
    port: int, mode: str, token: str, words_file: Path, seconds: float, connections: int
) -> tuple[float, int, int]:
    argv = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "-s",
        str(LUA),
        f"http://127.0.0.1:{port}",
        "--",
        mode,
        token,
        str(words_file),
    ]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    done = re.search(r"(\d+) requests in", out)
    assert rps and done, out
    return (
        float(rps.group(1)),
        int(bad.group(1)) if bad else 0 + (1 if errors else 0),
        int(done.group(1)),
    )


def seed(url: str, docs: int, root: Path = PROJECT_ROOT) -> str:
    """`gameday seed` of ``root``'s checkout (its tokens are the ones its service takes)."""
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "gameday.cli", "seed", "--url", url, "--docs", str(docs)]
        + ["--wait-indexed", "2m"],
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    lines = (out.stdout + out.stderr).strip().splitlines()
    if out.returncode != 0:
        sys.exit(f"seeding {url} failed (exit {out.returncode}): {' | '.join(lines[-3:])}")
    return f"{lines[-1] if lines else ''} (wall {time.monotonic() - started:.1f} s)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--docs", type=int, default=5000)
    parser.add_argument(
        "--baseline",
        action="append",
        default=[],
        metavar="[LABEL=]DIR",
        help="another checkout's service, labelled 'before' unless LABEL is given",
    )
    parser.add_argument("--only", default="", help="comma-separated words of target names")
    parser.add_argument("--no-latency", action="store_true", help="saturation only")
    args = parser.parse_args()
    baselines: list[tuple[str, Path]] = []
    for spec in args.baseline:
        label, _, folder = spec.rpartition("=")
        root = Path(folder).resolve()
        if not (root / "service" / "main.py").is_file():
            sys.exit(f"--baseline {spec}: no service/main.py in {root}; export one with "
                     "`git archive <commit> service gameday | tar -x -C DIR`")  # fmt: skip
        baselines.append((label or "before", root))
    targets = [
        t for t in TARGETS if not args.only or any(w in t.name for w in args.only.split(","))
    ]
    for position, (label, root) in enumerate(baselines, start=1):  # after the first service
        targets.insert(position, Target(BASELINE.format(label), "service.main:create_app", 1,
                                        "uvloop", "httptools", root=root))  # fmt: skip
    if not any(t.is_service for t in targets):
        sys.exit(f"--only {args.only!r} keeps no service target; names: "
                 f"{', '.join(t.name for t in TARGETS)}")  # fmt: skip
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: run `make bench-setup`")
    stack = StackSettings()
    env = namespace_env(stack)
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    tokens = {root: issue_token(root) for root in {t.root for t in targets}}
    words = Vocabulary(seed=42).words[:300]  # the commonest: every one is in the corpus
    logs = Path(tempfile.mkdtemp(prefix="bench-service-"))
    words_file = logs / "words.txt"
    words_file.write_text("\n".join(words) + "\n")
    procs: list[subprocess.Popen[bytes]] = []
    groups: dict[str, int] = {}
    ports: dict[str, int] = {}
    try:
        for target in targets:  # the first service creates the namespace's schema and index
            port = ports[target.name] = free_port()
            proc = start_uvicorn(
                target.app,
                port,
                env,
                logs / f"{port}.log",
                workers=target.workers,
                loop=target.loop,
                http=target.http,
                root=target.root,
            )
            procs.append(proc)
            groups[target.name] = proc.pid  # its own session: the pid is the group id
            path = "/v1/health/ready" if target.is_service else "/json"
            wait_ready(f"http://127.0.0.1:{port}{path}", proc)
        indexer = start_indexer(env, logs / "indexer.log")
        procs.append(indexer)
        first = f"http://127.0.0.1:{ports[targets[0].name]}"
        print(f"seeded: {seed(first, args.docs)}", file=sys.stderr, flush=True)
        # The indexer stays up: writes are indexed as in production, at its CPU cost.
        cells = [(t, m) for t in targets for m in (SERVICE_MODES if t.is_service else ("bare",))]
        saturation: dict[tuple[str, str], list[float]] = {}
        cpu_us: dict[tuple[str, str], list[float]] = {}
        errors: dict[tuple[str, str], int] = {}
        for round_no in range(1, args.rounds + 1):
            for target, mode in cells:
                cpu_before = cpu_s(groups[target.name])
                rps, bad, requests = run_wrk(
                    ports[target.name],
                    mode,
                    tokens[target.root],
                    words_file,
                    args.seconds,
                    args.connections,
                )
                used_us = (cpu_s(groups[target.name]) - cpu_before) * 1e6 / max(requests, 1)
                saturation.setdefault((target.name, mode), []).append(rps)
                cpu_us.setdefault((target.name, mode), []).append(used_us)
                errors[(target.name, mode)] = errors.get((target.name, mode), 0) + bad
                print(
                    f"sat round {round_no} {target.name:<30} {mode:<12} {rps:>8,.0f} rps"
                    f" {used_us:>8,.0f} us CPU/request non-2xx {bad}",
                    file=sys.stderr,
                    flush=True,
                )
        median_sat = {cell: statistics.median(v) for cell, v in saturation.items()}
        latency: dict[tuple[str, str, int], list[tuple[float, float, float, float, int]]] = {}
        for round_no in range(1, 0 if args.no_latency else args.rounds + 1):
            for target, mode in cells:
                for share in (50, 70):
                    rate = median_sat[(target.name, mode)] * share / 100
                    result = measure(
                        port=ports[target.name],
                        rate_rps=rate,
                        seconds=args.seconds,
                        connections=args.connections,
                        make_request=make_requests(mode, tokens[target.root], words),
                    )
                    latency.setdefault((target.name, mode, share), []).append(
                        (
                            result.p50_ms,
                            result.p95_ms,
                            result.p99_ms,
                            result.achieved_rps,
                            result.errors,
                        )
                    )
                    print(
                        f"lat round {round_no} {target.name:<30} {mode:<12} {share}% "
                        f"{rate:>7,.0f} rps p50 {result.p50_ms:.2f} p99 {result.p99_ms:.2f}"
                        f" err {result.errors}",
                        file=sys.stderr,
                        flush=True,
                    )
    finally:
        stop(procs)
        failures = drop_namespace(stack, env)
        if failures:
            print(
                f"could not drop namespace {env['SERVICE_POSTGRES_SCHEMA']}: {failures}",
                file=sys.stderr,
            )
    report(args, cells, median_sat, saturation, errors, latency, cpu_us)


def report(args, cells, median_sat, saturation, errors, latency, cpu_us) -> None:  # type: ignore[no-untyped-def]
    def med(values: list[float]) -> float:
        return statistics.median(values)

    print(
        f"\nService throughput at saturation (wrk -t1 -c{args.connections}, {args.rounds} rounds"
        f" x {args.seconds:g} s, interleaved; medians)\n"
    )
    print(
        "| target | endpoint | rps (median) | min | max | server CPU us/request (median) "
        "| non-2xx (all rounds) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for target, mode in cells:
        values = saturation[(target.name, mode)]
        print(
            f"| {target.name} | {mode} | {med(values):,.0f} | {min(values):,.0f} | "
            f"{max(values):,.0f} | {med(cpu_us[(target.name, mode)]):,.0f} | "
            f"{errors[(target.name, mode)]} |"
        )
    if not latency:
        print("\n(latency at a fixed rate: skipped, --no-latency)")
    else:
        _latency_table(args, cells, latency)
    baselines = [t.name for t in cells_targets(cells) if t.root != PROJECT_ROOT]
    _ratios(median_sat, baselines)
    # CPU per request is what a request costs the server whatever else runs on the box:
    # bare / service = the share of the bare ceiling the service would reach on a core.
    _ratios(
        {cell: 1 / statistics.median(v) for cell, v in cpu_us.items() if min(v) > 0},
        baselines,
        "Ratios by server CPU per request (the inverse of us/request: bare us / service us, "
        "medians, same run)",
    )


def _latency_table(args, cells, latency) -> None:  # type: ignore[no-untyped-def]
    def med(values: list[float]) -> float:
        return statistics.median(values)

    print(
        f"\nLatency at a fixed rate (50% and 70% of each cell's saturation, {args.rounds} rounds"
        f" x {args.seconds:g} s; medians of per-round percentiles, ms)\n"
    )
    print("| target | endpoint | load | rate (rps) | P50 | P95 | P99 | errors |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for target, mode in cells:
        for share in (50, 70):
            rows = latency[(target.name, mode, share)]
            p50, p95, p99 = (med([r[i] for r in rows]) for i in range(3))
            achieved, errs = med([r[3] for r in rows]), sum(r[4] for r in rows)
            print(
                f"| {target.name} | {mode} | {share}% | {achieved:,.0f} | {p50:.2f} | "
                f"{p95:.2f} | {p99:.2f} | {errs} |"
            )


def cells_targets(cells: list[tuple[Target, str]]) -> list[Target]:
    return list(dict.fromkeys(target for target, _ in cells))


def _ratios(
    median_sat: dict[tuple[str, str], float],
    baselines: list[str],
    title: str = "Ratios of throughput at saturation (medians, same run)",
) -> None:
    sat = dict(median_sat)

    def ratio(label: str, top: tuple[str, str], bottom: tuple[str, str], digits: int = 2) -> None:
        if top in sat and bottom in sat:  # a target left out by --only has no ratio
            print(f"- {label}: {sat[top] / sat[bottom]:.{digits}f}")

    print(f"\n{title}\n")
    for loop in ("1w uvloop", "2w uvloop"):
        services = [t.name for t in TARGETS if t.is_service and loop in t.name] + baselines
        for service in services:
            if loop not in service:
                continue
            for bare in (f"FastAPI json {loop}", f"Starlette {loop}"):
                for mode in SERVICE_MODES:
                    ratio(f"{service} {mode} / {bare}", (service, mode), (bare, "bare"), 3)
    for mode in SERVICE_MODES:
        one = ("service 1w uvloop", mode)
        for baseline in baselines:
            ratio(f"service 1w uvloop / {baseline}, {mode}", one, (baseline, mode))
        ratio(f"service 2 workers / 1 worker, {mode}", ("service 2w uvloop (default)", mode), one)
        ratio(
            f"service uvloop+httptools / asyncio+h11 (1 worker), {mode}",
            one,
            ("service 1w asyncio/h11", mode),
        )
    for name in ("FastAPI json", "Starlette"):
        one = (f"{name} 1w uvloop", "bare")
        ratio(f"{name} uvloop+httptools / asyncio+h11", one, (f"{name} 1w asyncio/h11", "bare"))
        ratio(f"{name} 2 workers / 1 worker", (f"{name} 2w uvloop", "bare"), one)
    ratio(
        "FastAPI ORJSONResponse / JSONResponse",
        ("FastAPI orjson 1w uvloop", "bare"),
        ("FastAPI json 1w uvloop", "bare"),
    )


if __name__ == "__main__":
    main()
