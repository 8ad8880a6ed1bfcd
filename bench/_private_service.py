"""A private copy of the reference service for benchmark 3: its own uvicorn
processes on free ports in 24000-24999, in its own namespace (PostgreSQL schema,
Redis prefix, RabbitMQ queue and exchange, OpenSearch alias, the same variables the
integration tests use), so the shared service at :28080 never sees this load.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

from gameday.settings import PROJECT_ROOT, StackSettings
from gameday.stack.service_env import service_env
from service import namespace


def free_port() -> int:
    for _ in range(200):
        port = random.randint(24000, 24999)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 24000-24999")


def namespace_env(stack: StackSettings) -> dict[str, str]:
    name = f"bench{uuid.uuid4().hex[:8]}"
    return {
        **os.environ,
        **service_env(stack),
        **namespace.namespace_env(name),
    }


def start_uvicorn(
    app: str,
    port: int,
    env: dict[str, str],
    log: Path,
    *,
    workers: int,
    loop: str,
    http: str,
    root: Path = PROJECT_ROOT,
) -> subprocess.Popen[bytes]:
    """The stack's own service command line (gameday/stack/service.py), with the
    loop, parser and worker count as knobs; ``root`` is the checkout whose code runs
    (another one, e.g. an exported older commit, for a before/after comparison)."""
    argv = [sys.executable, "-m", "uvicorn", "--factory", app, "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--workers", str(workers), "--no-access-log"]
    argv += ["--loop", loop, "--http", http]
    return start_process(argv, env, root, log)


def start_process(
    argv: list[str], env: dict[str, str], root: Path, log: Path
) -> subprocess.Popen[bytes]:
    """``argv`` run with ``root``'s code (first on PYTHONPATH, and the working directory),
    its output appended to ``log``, in a session of its own (stopped as a group)."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            argv,
            env={**env, "PYTHONPATH": str(root)},
            cwd=root,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def issue_token(root: Path = PROJECT_ROOT, *, tenant: str = "tenant-1", role: str = "user") -> str:
    """A token from ``root``'s own `gameday token`, so that a service of another checkout
    gets a token in the format that checkout expects."""
    return subprocess.run(
        [sys.executable, "-m", "gameday.cli", "token", "--tenant", tenant, "--role", role],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    ).stdout.strip()


def start_indexer(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "service.indexer"],
            env=env,
            cwd=PROJECT_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited {proc.returncode}")
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{url} not ready within {timeout_s}s")


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
