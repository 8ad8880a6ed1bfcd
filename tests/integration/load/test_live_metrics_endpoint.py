"""The harness's live metrics endpoint, for real: `gameday run` as a subprocess against
the cheap target (tests/integration/load/cheap_target.py: no stack needed), scraped while
the load runs. What it said must agree with the run's own final counts, and it must be
gone when the run is over. A port already taken costs nothing but one warning."""

from __future__ import annotations

import csv
import json
import socket
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.load.cheap_target import serving
from tests.integration.own_service import ROOT, assert_report_agrees

LENIENT = ("--slo", str(ROOT / "tests" / "data" / "slo-lenient.yaml"))
RATE_RPS = 40


@pytest.fixture(scope="module")
def cheap_target() -> Iterator[str]:
    with serving() as url:
        yield url


def _free_port() -> int:
    """A free port outside the stack's 21000-29999 and the ephemeral range."""
    for port in range(19100, 19900):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 19100-19899")


def _start(tmp_path: Path, target: str, *args: str) -> tuple[subprocess.Popen[bytes], Path]:
    log = tmp_path / "gameday-run.log"
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "gameday.cli", "run", *LENIENT, "--scenario", "read_only"]
            + ["--target", target, "--out", str(tmp_path / "run"), *args],
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            start_new_session=True,
        )
    return process, log


def _scrape(url: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]] | None:
    """name -> labels -> value, or None while nothing listens."""
    try:
        text = httpx.get(url, timeout=2.0).text
    except httpx.TransportError:
        return None
    return {
        family.name: {
            tuple(sorted(s.labels.items())): s.value
            for s in family.samples
            if not s.name.endswith("_created")
        }
        for family in text_string_to_metric_families(text)
    }


def _per_endpoint(samples: dict[tuple[tuple[str, str], ...], float]) -> dict[str, float]:
    return {dict(labels)["endpoint"]: value for labels, value in samples.items()}


def _by_process(samples: dict[tuple[tuple[str, str], ...], float]) -> dict[str, float]:
    return {dict(labels)["process"]: value for labels, value in samples.items()}


def _final_counts(run_dir: Path) -> dict[str, int]:
    """Requests per endpoint in the run directory's timeseries.csv (what the report counts)."""
    counts: dict[str, int] = defaultdict(int)
    with open(run_dir / "timeseries.csv") as f:
        for row in csv.DictReader(f):
            if row["endpoint"] != "ALL":
                counts[row["endpoint"]] += int(row["requests"])
    return dict(counts)


def test_the_live_endpoint_counts_during_the_run_agree_with_the_final_counts_and_it_goes_away(
    cheap_target: str, tmp_path: Path
) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    process, log = _start(
        tmp_path,
        cheap_target,
        *("--rate", str(RATE_RPS), "--duration", "6s", "--workers", "1"),
        *("--metrics-port", str(port)),
    )
    scrapes: list[dict[str, dict[tuple[tuple[str, str], ...], float]]] = []
    deadline = time.monotonic() + 90
    try:
        while process.poll() is None:  # scrape all the way through the run, as Prometheus
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            scraped = _scrape(url)
            if scraped is not None and scraped.get("gameday_load_requests"):
                scrapes.append(scraped)
            time.sleep(0.5)  # the scrape interval (what is observed is each scrape)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
    output = log.read_text()
    assert_report_agrees(output, process.returncode)
    assert scrapes, f"the endpoint never showed a request: {output[-3000:]}"
    with pytest.raises(httpx.ConnectError):  # the endpoint ended with the run
        httpx.get(url, timeout=2.0)

    run_dir = tmp_path / "run"
    final = _final_counts(run_dir)
    last = _per_endpoint(scrapes[-1]["gameday_load_requests"])
    assert set(last) == set(final), (last, final)
    for endpoint, count in last.items():
        assert 0 < count <= final[endpoint], (endpoint, count, final)
    # counters only grow, scrape after scrape
    for before, after in zip(scrapes, scrapes[1:], strict=False):
        earlier = _per_endpoint(before["gameday_load_requests"])
        later = _per_endpoint(after["gameday_load_requests"])
        assert all(later[e] >= n for e, n in earlier.items()), (earlier, later)
    # the cheap target answers every request at once with 200: no errors, no 4xx
    assert set(_per_endpoint(scrapes[-1]["gameday_load_errors"]).values()) == {0.0}
    assert set(_per_endpoint(scrapes[-1]["gameday_load_client_errors"]).values()) == {0.0}

    run = run_dir.name
    steady = [s for s in scrapes if s.get("gameday_load_p95_seconds")]
    assert steady, "no scrape had a complete window"
    # the achieved rate over 5 complete seconds: the target's, within a quarter for jitter
    achieved = [sum(s["gameday_load_rps"].values()) for s in steady]
    assert any(abs(rps - RATE_RPS) <= RATE_RPS / 4 for rps in achieved), achieved
    assert all(0 < v < 1.0 for s in steady for v in s["gameday_load_p95_seconds"].values())
    # the shape's rate while it runs (none once its duration is over)
    assert any(s.get("gameday_load_target_rps") == {(("run", run),): RATE_RPS} for s in steady)
    assert all(s["gameday_generator_valid"] == {(("run", run),): 1.0} for s in steady)
    # CPU per process, the master's and the worker's (by its Locust id), each of one core
    workers = json.loads((run_dir / "run.json").read_text())["generator"]["worker_request_totals"]
    cpu = [_by_process(s["gameday_generator_cpu_percent"]) for s in steady]
    assert any(set(shares) == {"master", *workers} for shares in cpu), (cpu, workers)
    assert all(0 <= share <= 100 for shares in cpu for share in shares.values()), cpu


# In a Locust process (import locust first: it monkey-patches the standard library), as the
# plugin does: serve on a taken port, then on a free one, scrape it and stop it.
_SERVE_TWICE = """
import locust, logging, sys, httpx
from prometheus_client.registry import Collector
from gameday.plugin.live_metrics import serve, stop
logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
class One(Collector):
    def collect(self):
        from prometheus_client.core import GaugeMetricFamily
        yield GaugeMetricFamily("gameday_test", "one", value=1)
taken, free = int(sys.argv[1]), int(sys.argv[2])
print("taken:", serve(One(), host="127.0.0.1", port=taken))
server = serve(One(), host="127.0.0.1", port=free)
print("scraped:", httpx.get(f"http://127.0.0.1:{free}/metrics").text.splitlines()[-1])
stop(server)
try:
    httpx.get(f"http://127.0.0.1:{free}/metrics")
except httpx.ConnectError:
    print("stopped")
"""


def test_a_metrics_port_already_taken_costs_one_warning_and_no_endpoint() -> None:
    """The plugin's server: None and one warning line (the Locust log's) for a taken port,
    so the run goes on without an endpoint; on a free port it serves until stopped."""
    port = _free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        free = _free_port()
        result = subprocess.run(
            [sys.executable, "-c", _SERVE_TWICE, str(port), str(free)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=60,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["taken: None", "scraped: gameday_test 1.0", "stopped"]
    assert result.stderr.splitlines() == [
        "WARNING gameday.plugin.live_metrics: no live metrics endpoint: cannot "
        f"listen on 127.0.0.1:{port} (Address already in use: ('127.0.0.1', {port})); "
        "the run goes on"
    ]
