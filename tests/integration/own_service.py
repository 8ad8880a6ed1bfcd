"""Shared by the load and chaos tests: a service of our own (so a stall or a
setting changed here disturbs no one else), pointed at the session stack's
proxies, and `gameday run` as a subprocess."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gameday.settings import StackSettings
from gameday.stack.service import uvicorn_argv
from service.settings import ShutdownSettings, env_for_stack

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class RunningService:
    url: str
    process: subprocess.Popen[bytes]


def _free_low_port() -> int:
    # below the ephemeral range, like every port of the stack
    for port in range(26000, 27000):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 26000-26999")


@contextmanager
def running_service(
    stack: StackSettings, log_dir: Path, extra_env: dict[str, str] | None = None
) -> Iterator[RunningService]:
    port = _free_low_port()
    log = log_dir / f"service-{port}.log"
    with open(log, "wb") as out:
        env = {**os.environ, **env_for_stack(stack), **(extra_env or {})}
        grace_s = int(env.get("SERVICE_SHUTDOWN_GRACE_S", ShutdownSettings().grace_s))
        process = subprocess.Popen(
            uvicorn_argv("127.0.0.1", port, shutdown=ShutdownSettings(grace_s=grace_s)),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/openapi.json", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None:
                pytest.fail(f"the service exited: {log.read_text()[-2000:]}")
            time.sleep(0.3)
        else:
            pytest.fail(f"the service did not answer within 60 s: {log.read_text()[-2000:]}")
        yield RunningService(url=url, process=process)
    finally:
        if process.poll() is None:  # a test may have stopped it already
            os.killpg(process.pid, signal.SIGCONT)  # in case a test left it frozen
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def own_service(
    stack: StackSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningService]:
    with running_service(stack, tmp_path_factory.mktemp("service")) as service:
        yield service


def gameday_run(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gameday.cli", "run", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
    )


def interruptible() -> None:
    """preexec_fn for a child that the test stops with SIGINT, as Ctrl-C would: a shell
    that starts the suite in the background (`make test &`, nohup) makes SIGINT ignored,
    children inherit that, and Python then never raises KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@dataclass
class Finished:
    returncode: int = -1
    output: str = ""


@contextmanager
def gameday_run_in_background(*args: str, timeout: float = 180) -> Iterator[Finished]:
    """`gameday run` started in the background, for a test that observes the system
    while the run goes on; leaving the block waits for the run to end."""
    finished = Finished()
    process = subprocess.Popen(
        [sys.executable, "-m", "gameday.cli", "run", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
    )
    try:
        yield finished
    finally:
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        finished.returncode, finished.output = process.returncode, output


def seconds_with_requests(run_dir: Path) -> int:
    """Whole seconds of a running `gameday run` that saw requests (its live.json)."""
    try:
        live = json.loads((run_dir / "live.json").read_text())
    except FileNotFoundError:  # the load has not started yet
        return 0
    return sum(1 for second in live["seconds"] if second["requests"] > 0)
