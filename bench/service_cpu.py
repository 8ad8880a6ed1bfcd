"""Benchmark 3b: what one request costs the service in CPU, next to a bare FastAPI app,
measured in-process: the app (its lifespan: pools, clients, the outbox relay) is called
through ASGI, one request after another, and the process's CPU time per request is
taken (``time.process_time``: user + system of this process only). Waiting on Redis,
OpenSearch or PostgreSQL costs no CPU here, and neither do the other processes on the
box: on a shared, overloaded machine this is the figure that stays put, where
requests per second at saturation swing with everybody else's load. uvicorn's own
per-request work (HTTP parsing, the transport) is left out of both sides.

Each checkout runs in its own process, A B A B, ``--rounds`` times; medians. Like
benchmark 3 it works in a private namespace (bench/_private_service.py) through the
stack's proxies: a private service and indexer seed it, then stay up (the indexer
indexes the writes), and the namespace is dropped at the end.

    .venv/bin/python bench/service_cpu.py [--rounds 5] [--requests 300]
    .venv/bin/python bench/service_cpu.py --baseline before=/tmp/before [--baseline ...]
    .venv/bin/python bench/service_cpu.py --profile cached [--root /tmp/before]   # cProfile
    .venv/bin/python bench/service_cpu.py --multiproc-metrics   # + the stack's metrics mode
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parent.parent)  # bench/service.py shadows service

from bench._private_service import (  # noqa: E402
    free_port,
    issue_token,
    namespace_env,
    start_indexer,
    start_uvicorn,
    stop,
    wait_ready,
)
from bench.service import seed  # noqa: E402
from gameday.corpus import Vocabulary  # noqa: E402
from gameday.settings import PROJECT_ROOT, StackSettings  # noqa: E402
from service.namespace import drop_namespace  # noqa: E402

MODES = ("cached", "uncached", "write", "autocomplete")

CHILD = r"""
import asyncio, json, random, sys, time
mode, requests, words = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(",")
rng = random.Random(7)
if mode == "bare":
    from bench.bare_apps import fastapi_json_app
    app, lifespan, token = fastapi_json_app(), None, ""
else:
    import subprocess
    from service.main import create_app, lifespan
    app = create_app()
    token = sys.argv[4]

def request(index):
    headers = [(b"host", b"127.0.0.1"), (b"authorization", f"Bearer {token}".encode()),
               (b"x-synthetic", b"gameday-bench")]
    if mode == "bare":
        return "GET", "/json", b"", headers, b""
    if mode == "cached":
        return "GET", "/v1/search", f"q={words[0]}".encode(), headers, b""
    if mode == "uncached":
        q = f"q={rng.choice(words)}+{rng.choice(words)}&page={rng.randint(1, 3)}"
        return "GET", "/v1/search", q.encode(), headers, b""
    if mode == "autocomplete":
        w = rng.choice(words)
        prefix = f"prefix={w[:rng.randint(2, len(w))]}".encode()
        return "GET", "/v1/autocomplete", prefix, headers, b""
    body = json.dumps({"title": f"bench {rng.choice(words)} {index}",
                       "body": " ".join(rng.choices(words, k=3)), "tags": ["bench"]}).encode()
    headers = headers + [(b"content-type", b"application/json"),
                         (b"content-length", str(len(body)).encode())]
    return "POST", "/v1/documents", b"", headers, body

async def call(index):
    method, path, query, headers, body = request(index)
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": query, "root_path": "", "headers": headers,
             "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8000)}
    sent = False
    status = []
    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
    async def send(message):
        if message["type"] == "http.response.start":
            status.append(message["status"])
    await app(scope, receive, send)
    return status[0]

async def run():
    for i in range(20):  # warm: connections, caches, the first token
        await call(i)
    statuses = {}
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(requests):
        code = await call(i)
        statuses[code] = statuses.get(code, 0) + 1
    return time.process_time() - cpu, time.perf_counter() - wall, statuses

async def main():
    if lifespan is None:
        return await run()
    async with lifespan(app):
        return await run()

import os
if os.environ.get("BENCH_PROFILE"):  # --profile: where the CPU of these requests goes
    import cProfile, pstats
    profiler = cProfile.Profile()
    profiler.enable()
    cpu_s, wall_s, statuses = asyncio.run(main())
    profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stderr)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(45)
else:
    cpu_s, wall_s, statuses = asyncio.run(main())
print(json.dumps({"cpu_us": cpu_s / requests * 1e6, "wall_us": wall_s / requests * 1e6,
                  "statuses": statuses}))
"""


MULTIPROC = "service (multiprocess metrics)"


def run_child(
    root: Path, mode: str, requests: int, words: list[str], token: str, env: dict[str, str]
) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, str(requests), ",".join(words), token],
        cwd=root,
        env={**env, "PYTHONPATH": f"{root}:{PROJECT_ROOT}"},  # bench.bare_apps from here
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        sys.exit(f"{root} {mode} failed: {out.stderr.strip().splitlines()[-3:]}")
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--root", type=Path, default=PROJECT_ROOT, help="the checkout measured")
    parser.add_argument("--baseline", action="append", default=[], metavar="[LABEL=]DIR")
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument(
        "--multiproc-metrics",
        action="store_true",
        help="also the service with Prometheus multiprocess mode on, as the stack runs it",
    )
    parser.add_argument("--profile", choices=MODES, help="cProfile one mode of --root instead")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated endpoints")
    args = parser.parse_args()
    roots = [("service", args.root.resolve())]
    for spec in args.baseline:
        label, _, folder = spec.rpartition("=")
        roots.append((f"service ({label or 'before'})", Path(folder).resolve()))
    if args.multiproc_metrics:
        roots.append((MULTIPROC, args.root.resolve()))
    stack = StackSettings()
    env = namespace_env(stack)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    words = Vocabulary(seed=42).words[:300]
    tokens = {root: issue_token(root) for _, root in roots}
    modes = [m for m in args.modes.split(",") if m in MODES]
    cells = [(name, root, mode) for name, root in roots for mode in modes]
    cells.append(("FastAPI json (bare)", PROJECT_ROOT, "bare"))
    cpu: dict[tuple[str, str], list[float]] = {}
    statuses: dict[tuple[str, str], dict[str, int]] = {}
    logs = Path(tempfile.mkdtemp(prefix="bench-service-cpu-"))
    port = free_port()
    root = roots[0][1]
    service = start_uvicorn("service.main:create_app", port, env, logs / "service.log",
                            workers=1, loop="uvloop", http="httptools", root=root)  # fmt: skip
    procs = [service]
    try:
        wait_ready(f"http://127.0.0.1:{port}/v1/health/ready", procs[0])
        procs.append(start_indexer(env, logs / "indexer.log"))
        print(f"seeded: {seed(f'http://127.0.0.1:{port}', args.docs, root)}", flush=True)
        if args.profile:
            root = roots[0][1]
            out = subprocess.run(
                [sys.executable, "-c", CHILD, args.profile, str(args.requests), ",".join(words),
                 tokens[root]],
                cwd=root, env={**env, "PYTHONPATH": f"{root}:{PROJECT_ROOT}", "BENCH_PROFILE": "1"},
                capture_output=True, text=True,
            )  # fmt: skip
            print(out.stdout + out.stderr)
            return
        measure_all(args, cells, tokens, words, env, cpu, statuses)
    finally:
        stop(procs)
        drop_namespace(stack, env)
    report(args, roots, cells, cpu, statuses)


def measure_all(args, cells, tokens, words, env, cpu, statuses) -> None:  # type: ignore[no-untyped-def]
    for round_no in range(1, args.rounds + 1):
        for name, root, mode in cells:
            cell_env = env
            if name == MULTIPROC:  # each child its own empty directory, as a fresh start
                cell_env = {**env, "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="prom-")}
            result = run_child(root, mode, args.requests, words, tokens[root], cell_env)
            cpu.setdefault((name, mode), []).append(float(str(result["cpu_us"])))
            counts = statuses.setdefault((name, mode), {})
            for code, count in dict(result["statuses"]).items():  # type: ignore[call-overload]
                counts[code] = counts.get(code, 0) + int(count)
            print(
                f"round {round_no} {name:<28} {mode:<12} {result['cpu_us']:>9,.0f} us CPU"
                f" {result['wall_us']:>9,.0f} us wall {result['statuses']}",
                file=sys.stderr,
                flush=True,
            )


def report(args, roots, cells, cpu, statuses) -> None:  # type: ignore[no-untyped-def]
    med = {cell: statistics.median(values) for cell, values in cpu.items()}
    print(
        f"\nService CPU per request, in-process through ASGI ({args.rounds} rounds x "
        f"{args.requests} requests, one at a time; medians)\n"
    )
    print("| target | endpoint | CPU us/request (median) | min | max | statuses (all rounds) |")
    print("|---|---|---:|---:|---:|---|")
    for name, _, mode in cells:
        values = cpu[(name, mode)]
        codes = ", ".join(f"{k}: {v}" for k, v in sorted(statuses[(name, mode)].items()))
        print(
            f"| {name} | {mode} | {med[(name, mode)]:,.0f} | {min(values):,.0f} | "
            f"{max(values):,.0f} | {codes} |"
        )
    bare = med[("FastAPI json (bare)", "bare")]
    modes = [m for m in MODES if any(m == mode for _, _, mode in cells)]
    print("\nRatios (bare CPU / service CPU per request: the share of the bare ceiling)\n")
    for name, _ in roots:
        for mode in modes:
            print(f"- {name} {mode} / FastAPI json: {bare / med[(name, mode)]:.3f}")
    for name, _ in roots[1:]:
        for mode in modes:
            print(
                f"- service / {name}, {mode} (CPU per request, lower is better): "
                f"{med[('service', mode)] / med[(name, mode)]:.2f}"
            )


if __name__ == "__main__":
    main()
