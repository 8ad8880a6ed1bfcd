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
from gameday.stack.service_env import service_env
from gameday.stack.warmup import warm_up

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
        env = {**os.environ, **service_env(stack), **(extra_env or {})}
        process = subprocess.Popen(
            uvicorn_argv("127.0.0.1", port),  # the grace: its SERVICE_SHUTDOWN_GRACE_S
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
        # The session's engine may have been restarted moments ago (the cluster modules
        # stop it): a test's first searches must not open this service's breaker on a
        # cold JVM (a game day's steady state failed that way in CI).
        warm_up(stack, lambda _line: None, budget_s=10.0)
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


def gameday_cli(
    *args: str, timeout: float = 180, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`gameday ARGS` as a subprocess; for `run`, `gameday` and `matrix`, then
    `assert_report_agrees` on the run directory it made."""
    result = subprocess.run(
        [sys.executable, "-m", "gameday.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        check=False,
        env=env,
    )
    if args and args[0] in ("run", "gameday", "matrix"):
        assert_report_agrees(result.stdout, result.returncode, env=env)
    return result


def gameday_run(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return gameday_cli("run", *args, timeout=timeout)


def assert_report_agrees(
    output: str, returncode: int, *, env: dict[str, str] | None = None
) -> None:
    """`gameday report` on the run directory that a `gameday run` / `gameday` / `matrix`
    wrote prints exactly the verdict lines that run printed last, and exits with its code
    (an interrupted run's 130 is the run's alone). A run that stopped before its report
    (a usage or harness error) printed no verdict line: nothing to compare."""
    lines = output.splitlines()
    ends = [
        i for i, line in enumerate(lines) if line.startswith("verdict ") and "  report: " in line
    ]
    if not ends:
        assert returncode == 2, f"a run that wrote no report exits 2, not {returncode}: {output}"
        return
    page = Path(lines[ends[-1]].split("  report: ", 1)[1])
    report = subprocess.run(
        [sys.executable, "-m", "gameday.cli", "report", str(page.parent)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
        env=env,
    )
    printed = report.stdout.splitlines()
    assert printed and printed[-1] == lines[ends[-1]], (printed, output)
    assert lines[ends[-1] + 1 - len(printed) : ends[-1] + 1] == printed, (printed, output)
    if returncode != 130:
        assert report.returncode == returncode, (report.returncode, returncode, report.stderr)


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
    assert_report_agrees(finished.output, finished.returncode)


def seconds_with_requests(run_dir: Path) -> int:
    """Whole seconds of a running `gameday run` that saw requests (its live.json)."""
    try:
        live = json.loads((run_dir / "live.json").read_text())
    except FileNotFoundError:  # the load has not started yet
        return 0
    return sum(1 for second in live["seconds"] if second["requests"] > 0)
