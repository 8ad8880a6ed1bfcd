"""Benchmark 3: the reference service's throughput and latency next to its ceilings.

A private service (own ports in 24000-24999, own namespace; the shared one at :28080
is never touched) is seeded, then for every cell (target x endpoint):
  1. saturation: wrk, closed loop, `--connections` connections, `--seconds` per round;
  2. latency: fixed-rate requests at 50% and 70% of that cell's median saturation,
     P50/P95/P99 counted from when each request was due (bench/fixed_rate.py).
The cells run interleaved (A B C ..., A B C ...) for `--rounds` rounds; medians shown.

Targets: the service with 1 and 2 uvicorn workers, uvloop+httptools vs asyncio+h11;
bare FastAPI (JSONResponse, ORJSONResponse) and bare Starlette under the same settings.

    .venv/bin/python bench/service.py [--rounds 5] [--seconds 3] [--docs 5000]
"""

from __future__ import annotations

import argparse
import json
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

GAMEDAY = str(Path(sys.executable).parent / "gameday")
LUA = PROJECT_ROOT / "bench" / "wrk" / "service.lua"
SERVICE_MODES = ("cached", "uncached", "write", "autocomplete")


@dataclass(frozen=True)
class Target:
    name: str
    app: str
    workers: int
    loop: str
    http: str

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


def run_wrk(
    port: int, mode: str, token: str, words_file: Path, seconds: float, connections: int
) -> tuple[float, int]:
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
    assert rps, out
    return float(rps.group(1)), int(bad.group(1)) if bad else 0 + (1 if errors else 0)


def seed(url: str, docs: int) -> str:
    started = time.monotonic()
    out = subprocess.run(
        [GAMEDAY, "seed", "--url", url, "--docs", str(docs), "--wait-indexed", "2m"],
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT_ROOT,
    )
    lines = (out.stdout + out.stderr).strip().splitlines()
    return f"{lines[-1] if lines else ''} (wall {time.monotonic() - started:.1f} s)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--docs", type=int, default=5000)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: run `make bench-setup`")
    stack = StackSettings()
    env = namespace_env(stack)
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    token = subprocess.run(
        [GAMEDAY, "token", "--tenant", "tenant-1", "--role", "user"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    words = Vocabulary(seed=42).words[:300]  # the commonest: every one is in the corpus
    logs = Path(tempfile.mkdtemp(prefix="bench-service-"))
    words_file = logs / "words.txt"
    words_file.write_text("\n".join(words) + "\n")
    procs: list[subprocess.Popen[bytes]] = []
    ports: dict[str, int] = {}
    try:
        for target in TARGETS:  # the first service creates the namespace's schema and index
            port = ports[target.name] = free_port()
            proc = start_uvicorn(
                target.app,
                port,
                env,
                logs / f"{port}.log",
                workers=target.workers,
                loop=target.loop,
                http=target.http,
            )
            procs.append(proc)
            path = "/v1/health/ready" if target.is_service else "/json"
            wait_ready(f"http://127.0.0.1:{port}{path}", proc)
        indexer = start_indexer(env, logs / "indexer.log")
        procs.append(indexer)
        first = f"http://127.0.0.1:{ports[TARGETS[0].name]}"
        print(f"seeded: {seed(first, args.docs)}", file=sys.stderr, flush=True)
        # The indexer stays up: writes are indexed as in production, at its CPU cost.
        cells = [(t, m) for t in TARGETS for m in (SERVICE_MODES if t.is_service else ("bare",))]
        saturation: dict[tuple[str, str], list[float]] = {}
        errors: dict[tuple[str, str], int] = {}
        for round_no in range(1, args.rounds + 1):
            for target, mode in cells:
                rps, bad = run_wrk(
                    ports[target.name], mode, token, words_file, args.seconds, args.connections
                )
                saturation.setdefault((target.name, mode), []).append(rps)
                errors[(target.name, mode)] = errors.get((target.name, mode), 0) + bad
                print(
                    f"sat round {round_no} {target.name:<30} {mode:<12} {rps:>8,.0f} rps"
                    f" non-2xx {bad}",
                    file=sys.stderr,
                    flush=True,
                )
        median_sat = {cell: statistics.median(v) for cell, v in saturation.items()}
        latency: dict[tuple[str, str, int], list[tuple[float, float, float, float, int]]] = {}
        for round_no in range(1, args.rounds + 1):
            for target, mode in cells:
                for share in (50, 70):
                    rate = median_sat[(target.name, mode)] * share / 100
                    result = measure(
                        port=ports[target.name],
                        rate_rps=rate,
                        seconds=args.seconds,
                        connections=args.connections,
                        make_request=make_requests(mode, token, words),
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
    report(args, cells, median_sat, saturation, errors, latency)


def report(args, cells, median_sat, saturation, errors, latency) -> None:  # type: ignore[no-untyped-def]
    def med(values: list[float]) -> float:
        return statistics.median(values)

    print(
        f"\nService throughput at saturation (wrk -t1 -c{args.connections}, {args.rounds} rounds"
        f" x {args.seconds:g} s, interleaved; medians)\n"
    )
    print("| target | endpoint | rps (median) | min | max | non-2xx (all rounds) |")
    print("|---|---|---:|---:|---:|---:|")
    for target, mode in cells:
        values = saturation[(target.name, mode)]
        print(
            f"| {target.name} | {mode} | {med(values):,.0f} | {min(values):,.0f} | "
            f"{max(values):,.0f} | {errors[(target.name, mode)]} |"
        )
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
    sat = {(t, m): v for (t, m), v in median_sat.items()}
    print("\nRatios (medians, same run)\n")
    for workers, loop in ((1, "1w uvloop"), (2, "2w uvloop")):
        service = next(
            t.name for t in TARGETS if t.is_service and t.workers == workers and t.loop == "uvloop"
        )
        for bare in (f"FastAPI json {loop}", f"Starlette {loop}"):
            for mode in SERVICE_MODES:
                print(
                    f"- {service} {mode} / {bare}: {sat[(service, mode)] / sat[(bare, 'bare')]:.3f}"
                )
    for mode in SERVICE_MODES:
        print(
            f"- service 2 workers / 1 worker, {mode}: "
            f"{sat[('service 2w uvloop (default)', mode)] / sat[('service 1w uvloop', mode)]:.2f}"
        )
        print(
            f"- service uvloop+httptools / asyncio+h11 (1 worker), {mode}: "
            f"{sat[('service 1w uvloop', mode)] / sat[('service 1w asyncio/h11', mode)]:.2f}"
        )
    for name in ("FastAPI json", "Starlette"):
        print(
            f"- {name} uvloop+httptools / asyncio+h11: "
            f"{sat[(f'{name} 1w uvloop', 'bare')] / sat[(f'{name} 1w asyncio/h11', 'bare')]:.2f}"
        )
        print(
            f"- {name} 2 workers / 1 worker: "
            f"{sat[(f'{name} 2w uvloop', 'bare')] / sat[(f'{name} 1w uvloop', 'bare')]:.2f}"
        )
    print(
        f"- FastAPI ORJSONResponse / JSONResponse: "
        f"{sat[('FastAPI orjson 1w uvloop', 'bare')] / sat[('FastAPI json 1w uvloop', 'bare')]:.2f}"
    )


if __name__ == "__main__":
    main()
