"""Where a private service worker spends a cached search: py-spy samples one uvicorn
worker (1 worker, the stack's settings) while wrk saturates it, and the top frames
by own time and by inclusive time are printed (collapsed stacks kept for a flame graph).

    .venv/bin/python bench/profile_service.py [--seconds 10] [--mode cached] [--root DIR]

``--root`` profiles the service's code of another checkout (``git archive <commit>
service gameday | tar -x -C DIR``), for the profile before a change.
"""

from __future__ import annotations

import argparse
import collections
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

BIN = Path(sys.executable).parent
# The findings of bench/RESULTS.md, as frames to look for: the share of samples whose
# stack holds any of them is printed, so that a before/after shows what a fix removed.
FINDINGS = {
    "thread pool (sync dependencies, run_in_threadpool)": ("run_in_threadpool", "anyio/to_thread"),
    "access log (logging's Logger._log / handle)": ("_log (logging/", "handle (logging/"),
    "FastAPI dependency solving": ("solve_dependencies (",),
    "JWT verification (PyJWT decode)": ("decode_complete (jwt/",),
    "pydantic model_validate": ("model_validate (pydantic/",),
    "FastAPI response serialization": ("serialize_response (fastapi/",),
    "Redis round trips (redis execute_command)": ("execute_command (redis/",),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--mode", default="cached")
    parser.add_argument("--root", type=Path, default=PROJECT_ROOT)
    parser.add_argument("--docs", type=int, default=2000)
    args = parser.parse_args()
    stack = StackSettings()
    env = namespace_env(stack)
    logs = Path(tempfile.mkdtemp(prefix="bench-profile-"))
    words = logs / "words.txt"
    words.write_text("\n".join(Vocabulary(seed=42).words[:300]) + "\n")  # as benchmark 3
    token = issue_token(args.root.resolve())
    port = free_port()
    root = args.root.resolve()
    proc = start_uvicorn("service.main:create_app", port, env, logs / "service.log",
                         workers=1, loop="uvloop", http="httptools", root=root)  # fmt: skip
    procs = [proc]
    try:
        wait_ready(f"http://127.0.0.1:{port}/v1/health/ready", proc)
        # Real hits (as in benchmark 3), so that serializing them is in the profile.
        procs.append(start_indexer(env, logs / "indexer.log"))
        print(f"seeded: {seed(f'http://127.0.0.1:{port}', args.docs, root)}", flush=True)
        wrk = subprocess.Popen(
            ["wrk", "-t1", "-c32", f"-d{args.seconds + 2}s", "-s",
             str(PROJECT_ROOT / "bench/wrk/service.lua"), f"http://127.0.0.1:{port}", "--",
             args.mode, token, str(words)], stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        raw = logs / "stacks.txt"
        subprocess.run([BIN / "py-spy", "record", "--pid", str(proc.pid), "--duration",
                        str(args.seconds), "--format", "raw", "--output", str(raw),
                        "--nonblocking"], check=True, capture_output=True)  # fmt: skip
        print(wrk.communicate()[0].strip().splitlines()[-2])
    finally:
        stop(procs)
        drop_namespace(stack, env)
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    # py-spy writes frame names as it finds them in the sampled process's memory: a frame
    # caught mid-update can hold bytes that are not UTF-8 (a 10 s run crashed on one)
    lines = raw.read_text(errors="replace").splitlines()
    for line in lines:
        stack_text, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = stack_text.split(";")
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    print(f"\n{total} samples; collapsed stacks in {raw}\n\nby own time:")
    for frame, count in own.most_common(15):
        print(f"{100 * count / total:5.1f}%  {frame}")
    print("\nby inclusive time:")
    for frame, count in inclusive.most_common(40):
        print(f"{100 * count / total:5.1f}%  {frame}")
    print("\nthe findings (share of samples with any of these frames on the stack):")
    for name, needles in FINDINGS.items():
        hits = sum(
            int(line.rpartition(" ")[2])
            for line in lines
            if any(needle in line for needle in needles)
        )
        print(f"{100 * hits / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
