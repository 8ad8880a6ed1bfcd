"""gameday's providers in a plain `chaos run`, outside `gameday run`: the shipped
redis-down experiment and a breaker probe, given their sources as --var values (the run
directory, the Toxiproxy URL, the target profile). Against a private toxiproxy-server on
free ports in 25000-25999 and a small real metrics server: no stack needed."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gameday import histograms
from gameday.chaos.configuration import chaos_configuration
from gameday.chaos.experiment import load_experiment
from gameday.chaos.sidecar import ExperimentSidecar
from gameday.settings import StackSettings
from gameday.target import load_profile
from gameday.toxiproxy import Proxy, Toxic, ToxiproxyClient
from tests.metrics_server import metrics_server
from tests.ports import describe, private_ports
from tests.toxiproxy_server import private_toxiproxy_server

ROOT = Path(__file__).resolve().parents[3]
PRIVATE_PORTS = private_ports()


def _free_ports(count: int) -> list[int]:
    found: list[int] = []
    for port in PRIVATE_PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        found.append(port)
        if len(found) == count:
            return found
    raise RuntimeError(f"no free ports in {describe(PRIVATE_PORTS)}")


def _taken(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


@pytest.fixture(scope="module")
def toxiproxy() -> Iterator[tuple[str, int]]:
    """A private toxiproxy-server: its URL and a free port for a proxy to listen on."""
    port, listen = _free_ports(2)
    while any(_taken(p) for p in (listen + 1, listen + 2)):
        listen += 3
    with private_toxiproxy_server(port) as url:
        yield url, listen


def _live(run_dir: Path, seconds: int = 40) -> None:
    """live.json as the capture writes it: healthy seconds, 20 requests of 20 ms each."""
    histogram = histograms.new_histogram()
    for _ in range(20):
        histograms.record_ms(histogram, 20.0)
    encoded = histograms.encode(histogram)
    rows = [
        {"second": s, "requests": 20, "failures": 0, "errors": 0, "hist": encoded}
        for s in range(seconds)
    ]
    live = {"start_epoch": time.time() - seconds, "seconds": rows}
    (run_dir / "live.json").write_text(json.dumps(live))


def _chaos_run(experiment: Path, journal: Path, *variables: str) -> dict[str, object]:
    argv = [sys.executable, "-m", "chaostoolkit", "--log-file", str(journal.with_suffix(".log"))]
    argv += ["run", "--journal-path", str(journal)]
    for variable in variables:
        argv += ["--var", variable]
    subprocess.run(
        [*argv, str(experiment)], capture_output=True, timeout=120, check=False, cwd=ROOT
    )
    result: dict[str, object] = json.loads(journal.read_text())
    return result


def _events(run_dir: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


def test_the_shipped_redis_down_experiment_runs_in_a_plain_chaos_run(
    toxiproxy: tuple[str, int], tmp_path: Path
) -> None:
    url, listen = toxiproxy
    with ToxiproxyClient(url) as client:
        client.populate([Proxy(name="redis", listen=f"127.0.0.1:{listen}", upstream="127.0.0.1:9")])
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    _live(run_dir)
    journal = _chaos_run(
        ROOT / "experiments" / "redis-down.json",
        tmp_path / "journal.json",
        f"gameday_run_dir={run_dir}",
        f"toxiproxy_url={url}",
        "fault_s:float=1",
    )

    assert journal["status"] == "completed", journal.get("run")
    steady = journal["steady_states"]
    assert isinstance(steady, dict)
    assert steady["before"]["steady_state_met"] and steady["after"]["steady_state_met"]
    kinds = [(e["type"], e.get("name")) for e in _events(run_dir)]
    assert ("fault_injected", "redis-down") in kinds and ("fault_removed", "redis-down") in kinds
    assert kinds.count(("hypothesis_checked", None)) == 2
    with ToxiproxyClient(url) as client:  # the private server's proxy: enabled again
        assert client.proxies()["redis"].enabled


def _breaker_experiment(path: Path) -> Path:
    probe = {
        "type": "probe",
        "name": "payments-breaker-open",
        "tolerance": "open",
        "provider": {
            "type": "python",
            "module": "gameday.chaos.probes",
            "func": "breaker_state",
            "arguments": {"dependency": "payments"},
        },
    }
    experiment = {
        "title": "the payments breaker is open",
        "description": "a probe of the target's signals, outside gameday run",
        "configuration": {"gameday_profile": None},
        "steady-state-hypothesis": {"title": "open", "probes": [probe]},
        "method": [],
    }
    path.write_text(json.dumps(experiment))
    return path


SERIES = (
    'resilience4j_circuitbreaker_state{{name="payments",state="closed"}} {closed}\n'
    'resilience4j_circuitbreaker_state{{name="payments",state="open"}} {open}\n'
)


def _profile(path: Path, metrics_url: str) -> Path:
    path.write_text(
        "name: shop\nbase_url: http://127.0.0.1:25999\ntraffic: {locustfile: locustfile.py}\n"
        f"signals:\n  metrics_url: {metrics_url}\n  breakers:\n    payments:\n"
        "      metric: resilience4j_circuitbreaker_state\n      labels: {name: payments}\n"
        "      states: {closed: {state: closed}, half-open: {state: half_open},"
        " open: {state: open}}\n"
    )
    return path


def test_a_breaker_probe_reads_the_profiles_signals_in_a_plain_chaos_run(tmp_path: Path) -> None:
    experiment = _breaker_experiment(tmp_path / "breaker.json")
    with metrics_server() as server:
        profile = _profile(tmp_path / "shop.yaml", f"{server.url}/metrics")
        server.text = SERIES.format(closed=0, open=1)
        opened = _chaos_run(experiment, tmp_path / "open.json", f"gameday_profile={profile}")
        server.text = SERIES.format(closed=1, open=0)
        closed = _chaos_run(experiment, tmp_path / "closed.json", f"gameday_profile={profile}")

    assert opened["steady_states"]["before"]["steady_state_met"] is True  # type: ignore[index]
    assert closed["steady_states"]["before"]["steady_state_met"] is False  # type: ignore[index]
    (probe,) = closed["steady_states"]["before"]["probes"]  # type: ignore[index]
    assert probe["output"] == "closed"


def test_a_breaker_probe_without_the_profile_names_the_var_in_one_line(tmp_path: Path) -> None:
    experiment = _breaker_experiment(tmp_path / "breaker.json")
    journal = _chaos_run(experiment, tmp_path / "journal.json")
    (probe,) = journal["steady_states"]["before"]["probes"]  # type: ignore[index]
    assert probe["status"] == "failed"
    message = probe["exception"][-1]
    assert "--var gameday_profile=" in message and message.count("\n") <= 1


def test_the_last_resort_reset_touches_only_the_profiles_proxies(
    toxiproxy: tuple[str, int], tmp_path: Path
) -> None:
    """A user's action that names no proxy gameday can tell: after the experiment, every
    proxy of the profile is reset, and a proxy outside it keeps its toxic."""
    url, listen = toxiproxy
    profile_file = tmp_path / "shop.yaml"
    profile_file.write_text(
        "name: shop\nbase_url: http://127.0.0.1:25999\ntraffic: {locustfile: locustfile.py}\n"
        f"toxiproxy: {{url: {url}}}\n"
        f"dependencies:\n  db: {{listen: 127.0.0.1:{listen + 1}, upstream: 127.0.0.1:9}}\n"
    )
    profile = load_profile(profile_file)
    latency = Toxic(name="slow", type="latency", attributes={"latency": 100})
    with ToxiproxyClient(url) as client:
        client.populate(
            [
                Proxy(name="db", listen=f"127.0.0.1:{listen + 1}", upstream="127.0.0.1:9"),
                Proxy(name="not-mine", listen=f"127.0.0.1:{listen + 2}", upstream="127.0.0.1:9"),
            ]
        )
        for name in ("db", "not-mine"):
            client.add_toxic(name, latency)
        client.set_enabled("db", False)
    experiment_file = tmp_path / "user.json"
    experiment_file.write_text(
        json.dumps(
            {
                "title": "a user's own fault",
                "description": "-",
                "method": [
                    {
                        "type": "action",
                        "name": "mine",
                        "provider": {"type": "python", "module": "json", "func": "dumps",
                                     "arguments": {"obj": 1}},
                    }
                ],
            }
        )
    )  # fmt: skip
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    sidecar = ExperimentSidecar(
        load_experiment(experiment_file),
        run_dir,
        StackSettings(),
        {},
        profile=profile,
        chaos_values=chaos_configuration(profile, run_dir, StackSettings(), None),
    )
    sidecar.finish()  # never started: only the last-resort reset runs

    with ToxiproxyClient(url) as client:
        proxies = client.proxies()
    assert proxies["db"].enabled and proxies["db"].toxics == []
    assert [t.name for t in proxies["not-mine"].toxics] == ["slow"]
    (reset,) = [e for e in _events(run_dir) if e["type"] == "faults_reset"]
    assert reset["proxies"] == ["db"]
