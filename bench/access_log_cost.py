"""What the service's request middleware (request id, log context, HTTP metrics, the JSON
access line) costs per request, without a network: RequestContextMiddleware around a
trivial ASGI app, called in a loop on one event loop, its log lines written to a file
(as the service's stderr is). Each variant runs in its own process, A B A B, and the
medians of the per-request CPU times are printed.

    .venv/bin/python bench/access_log_cost.py [--rounds 5] [--requests 20000]
    .venv/bin/python bench/access_log_cost.py --before /tmp/before   # another checkout too
    .venv/bin/python bench/access_log_cost.py --root /tmp/after      # measure that one

Variants: every line logged (the default), ``SERVICE_LOG_ACCESS_SAMPLE=0.1`` (one fast
success in ten), ``SERVICE_LOG_LEVEL=WARNING`` (no access line at all: the floor).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import asyncio, json, os, sys, time
from types import SimpleNamespace
from service.logs import RequestContextMiddleware, configure_logging
from service.settings import Settings

settings = Settings.from_env()
configure_logging(settings.logging)
route = SimpleNamespace(path="/v1/search")
body = b'{"hits":[],"total":0}'

async def inner(scope, receive, send):
    scope["route"] = route
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})

async def receive():
    return {"type": "http.request", "body": b"", "more_body": False}

async def send(message):
    pass

app = RequestContextMiddleware(inner)
headers = [(b"host", b"127.0.0.1"), (b"authorization", b"Bearer x" * 20),
           (b"x-synthetic", b"gameday-bench")]
state = SimpleNamespace(state=SimpleNamespace(settings=settings))

async def main(n):
    for _ in range(n):
        scope = {"type": "http", "method": "GET", "path": "/v1/search",
                 "headers": headers, "app": state}
        await app(scope, receive, send)

n = int(sys.argv[1])
asyncio.run(main(1000))  # warm: metric children, the cached second of the timestamp
started = time.process_time()
asyncio.run(main(n))
print(json.dumps({"us": (time.process_time() - started) / n * 1e6}))
"""

VARIANTS = {
    "every line (default)": {},
    "sampled 10% (SERVICE_LOG_ACCESS_SAMPLE=0.1)": {"SERVICE_LOG_ACCESS_SAMPLE": "0.1"},
    "no access line (SERVICE_LOG_LEVEL=WARNING)": {"SERVICE_LOG_LEVEL": "WARNING"},
}


def run_child(root: Path, env_extra: dict[str, str], requests: int, log: Path) -> float:
    env = {**os.environ, **env_extra, "PYTHONPATH": str(root)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # in-process registry: no files
    with open(log, "ab") as err:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(requests)],
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
            check=True,
        ).stdout
    return float(json.loads(out)["us"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--before", type=Path, help="another checkout, measured as 'before'")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout measured")
    args = parser.parse_args()
    cells: list[tuple[str, Path, dict[str, str]]] = []
    if args.before is not None:
        if not (args.before / "service" / "logs.py").is_file():
            sys.exit(f"--before {args.before}: no service/logs.py there")
        cells.append(("before: every line", args.before.resolve(), {}))
    cells += [(name, args.root.resolve(), env) for name, env in VARIANTS.items()]
    log = Path(tempfile.mkdtemp(prefix="bench-access-log-")) / "lines.log"
    results: dict[str, list[float]] = {name: [] for name, _, _ in cells}
    for round_no in range(1, args.rounds + 1):
        for name, root, env in cells:
            us = run_child(root, env, args.requests, log)
            results[name].append(us)
            print(f"round {round_no} {name:<45} {us:7.1f} us", file=sys.stderr, flush=True)
    print(
        f"\nRequest middleware CPU per request ({args.rounds} rounds x {args.requests:,} "
        f"requests, in-process, lines to a file; medians)\n"
    )
    print("| variant | us per request (median) | min | max |")
    print("|---|---:|---:|---:|")
    for name, values in results.items():
        print(
            f"| {name} | {statistics.median(values):.1f} | {min(values):.1f} | {max(values):.1f} |"
        )
    floor = statistics.median(results["no access line (SERVICE_LOG_LEVEL=WARNING)"])
    every = statistics.median(results["every line (default)"])
    print(f"\n- the access line costs {every - floor:.1f} us per request (default - no line)")
    if args.before is not None:
        before = statistics.median(results["before: every line"])
        print(f"- middleware after / before: {every / before:.2f}")


if __name__ == "__main__":
    main()
