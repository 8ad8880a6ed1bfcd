"""A service of our own for load tests (so a stall injected here disturbs no
one else), pointed at the session stack's proxies."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gameday.settings import StackSettings
from service.settings import env_for_stack

ROOT = Path(__file__).resolve().parents[3]


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


@pytest.fixture(scope="module")
def own_service(
    stack: StackSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningService]:
    port = _free_low_port()
    log = tmp_path_factory.mktemp("service") / "service.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "service.main:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
            ],
            env={**os.environ, **env_for_stack(stack)},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
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
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def gameday_run(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gameday.cli", "run", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
    )
