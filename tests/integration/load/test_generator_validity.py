"""The generator-invalidation path, for real: `gameday run` as a subprocess whose load
generator is made the bottleneck (asked for more than one process can send, starved of
CPU, a worker killed) must end with run.json `generator.valid: false` and the matching
reason, verdict ERROR and exit code 2, and say that the generator was the bottleneck.

The target is tests/integration/load/cheap_target.py, which answers every request at once,
so nothing but the generator can hold the load back. The SLO file is the lenient one: the
verdict is ERROR because of the generator, never because of an objective."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.integration.load.cheap_target import serving
from tests.integration.own_service import ROOT, assert_report_agrees

LENIENT = ("--slo", str(ROOT / "tests" / "data" / "slo-lenient.yaml"))
FELL_BEHIND = "the generator fell behind"
STARVED = "a generator process was starved of CPU"
WORKER_LOST = "1 worker(s) lost"


@pytest.fixture(scope="module")
def cheap_target() -> Iterator[str]:
    with serving() as url:
        assert httpx.get(f"{url}/openapi.json", timeout=5).status_code == 200
        yield url


@dataclass
class Run:
    process: subprocess.Popen[bytes]
    out: Path
    log: Path

    def live(self) -> dict[str, Any]:
        try:
            return dict(json.loads((self.out / "live.json").read_text()))
        except (FileNotFoundError, ValueError):
            return {}

    def load_processes(self) -> list[psutil.Process]:
        """The Locust processes `gameday run` started (master and workers, or one)."""
        children = psutil.Process(self.process.pid).children(recursive=True)
        return [c for c in children if "locust" in " ".join(_cmdline(c))]

    def wait_until(self, condition: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if self.process.poll() is not None:
                pytest.fail(f"gameday run ended before {what}: {self.output()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} within {timeout_s:.0f} s: {self.output()[-3000:]}")
            time.sleep(0.1)

    def finish(self, timeout_s: float = 120.0) -> int:
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            pytest.fail(f"gameday run did not end within {timeout_s:.0f} s: {self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return []


def _start_run(tmp_path: Path, target: str, *args: str) -> Run:
    out, log = tmp_path / "run", tmp_path / "gameday-run.log"
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "gameday.cli", "run", *LENIENT, "--scenario", "read_only"]
            + ["--target", target, "--out", str(out), *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
    return Run(process=process, out=out, log=log)


def _assert_the_generator_invalidated_the_run(run: Run, returncode: int, reason: str) -> None:
    """run.json says the generator was the bottleneck, with `reason` among its reasons;
    the verdict is ERROR for that alone, and the output and report say why."""
    output = run.output()
    assert_report_agrees(output, returncode)
    generator = json.loads((run.out / "run.json").read_text())["generator"]
    assert generator["valid"] is False, generator
    assert any(reason in r for r in generator["reasons"]), generator["reasons"]
    summary = json.loads((run.out / "summary.json").read_text())
    reasons = "; ".join(generator["reasons"])
    why = f"the load generator was the bottleneck, so the run is invalid: {reasons}"
    assert summary["verdict"] == "error"
    assert summary["reasons"] == [why]  # the generator, and nothing else, made it ERROR
    assert returncode == 2, output
    assert "generator was the bottleneck:" in output and "verdict ERROR" in output, output
    assert reason in (run.out / "index.html").read_text()


def test_a_rate_far_above_what_one_process_can_send_invalidates_the_run(
    cheap_target: str, tmp_path: Path
) -> None:
    # One process sent 2,000 to 4,500 requests a second here (a core, with the capture,
    # depending on what else ran); 20,000 is far above that on any machine this runs on.
    run = _start_run(tmp_path, cheap_target, "--rate", "20000", "--duration", "10s")
    returncode = run.finish()
    _assert_the_generator_invalidated_the_run(run, returncode, FELL_BEHIND)
    generator = json.loads((run.out / "run.json").read_text())["generator"]
    assert generator["achieved_over_target"] < 0.95
    assert generator["late_starts"] > 0


def test_a_generator_starved_of_cpu_invalidates_the_run(cheap_target: str, tmp_path: Path) -> None:
    # 200 requests a second is easy for one process; then it is stopped five sixths of the
    # time for 6 s, as on a machine whose other work takes the CPU. It catches up with
    # its schedule afterwards, so only its late timers tell that the latency it measured
    # in those seconds was its own wait, not the service's.
    run = _start_run(tmp_path, cheap_target, "--rate", "200", "--duration", "15s")
    run.wait_until(lambda: run.live().get("total_requests", 0) > 0, 60, "requests sent")
    [locust] = run.load_processes()
    starve_until = time.monotonic() + 6.0
    try:
        while time.monotonic() < starve_until and run.process.poll() is None:
            # The duty cycle is the fault itself, not a wait for something to happen.
            locust.send_signal(signal.SIGSTOP)
            time.sleep(0.25)
            locust.send_signal(signal.SIGCONT)
            time.sleep(0.05)
    finally:
        if locust.is_running():
            locust.send_signal(signal.SIGCONT)
    returncode = run.finish()
    _assert_the_generator_invalidated_the_run(run, returncode, STARVED)


def test_a_worker_killed_mid_run_invalidates_the_run(cheap_target: str, tmp_path: Path) -> None:
    run = _start_run(tmp_path, cheap_target, "--rate", "100", "--duration", "15s", "--workers", "2")

    def both_workers_send() -> bool:
        totals = run.live().get("generator", {}).get("worker_request_totals", {})
        return len(totals) == 2 and all(n > 0 for n in totals.values())

    run.wait_until(both_workers_send, 60, "requests from both workers")
    workers = [p for p in run.load_processes() if "--worker" in _cmdline(p)]
    assert len(workers) == 2, [_cmdline(p) for p in run.load_processes()]
    workers[0].send_signal(signal.SIGKILL)
    returncode = run.finish()
    _assert_the_generator_invalidated_the_run(run, returncode, WORKER_LOST)
    generator = json.loads((run.out / "run.json").read_text())["generator"]
    assert generator["workers_lost"] == 1
    events = [json.loads(line) for line in (run.out / "events.jsonl").read_text().splitlines()]
    assert [e["type"] for e in events].count("worker_lost") == 1
