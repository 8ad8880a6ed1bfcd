"""Did we notice? End to end with no stack: a service that is not ours (the cheap target),
a dependency behind a private toxiproxy-server, and a private Prometheus that scrapes that
dependency through its proxy and alerts (`BackendDown`, for: 2s) when it cannot. A
`gameday run --profile --experiment` cuts the proxy; the harness polls Prometheus's
alerts API, the report judges `detect_within` from the events it wrote.

Ports: free ones in 25000-25999 (never the stack's)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gameday.chaos.alerts import AlertWatcher
from gameday.toxiproxy import Proxy, ToxiproxyClient
from tests.integration.load.cheap_target import serving
from tests.metrics_server import metrics_server
from tests.ports import describe, private_ports
from tests.prometheus_server import PrivatePrometheus, private_prometheus
from tests.toxiproxy_server import private_toxiproxy_server

ROOT = Path(__file__).resolve().parents[3]
GAMEDAY = [sys.executable, "-m", "gameday.cli"]
FOR_S, SCRAPE_S, EVAL_S, POLL_S = 2.0, 1.0, 1.0, 1.0  # the private Prometheus's and ours
RULE = {
    "alert": "BackendDown",
    "expr": 'up{job="backend"} == 0',
    "for": f"{FOR_S:g}s",
    "labels": {"severity": "critical"},
    "annotations": {"summary": "the backend does not answer its scrape"},
}
EXPERIMENT: dict[str, Any] = {
    "version": "1.0.0",
    "title": "backend down: the alert fires",
    "description": "Cuts the backend's proxy for fault_s seconds.",
    "configuration": {"fault_s": 6, "gameday_run_dir": None, "toxiproxy_url": None,
                      "gameday_profile": None, "gameday_metrics_url": None},
    "extensions": [{"name": "gameday", "warmup_s": 3, "recovery_s": 6}],
    "steady-state-hypothesis": {"title": "answers", "probes": [{
        "type": "probe", "name": "ready", "tolerance": True,
        "provider": {"type": "python", "module": "gameday.chaos.probes", "func": "service_ready"},
    }]},
    "method": [
        {"type": "action", "name": "backend-down", "pauses": {"after": "${fault_s}"},
         "provider": {"type": "python", "module": "gameday.chaos.faults",
                      "func": "disable_proxy", "arguments": {"proxy": "backend"}}},
        {"type": "action", "name": "backend-back",
         "provider": {"type": "python", "module": "gameday.chaos.faults",
                      "func": "enable_proxy", "arguments": {"proxy": "backend"}}},
    ],
    "rollbacks": [
        {"type": "action", "name": "backend-back",
         "provider": {"type": "python", "module": "gameday.chaos.faults",
                      "func": "enable_proxy", "arguments": {"proxy": "backend"}}},
    ],
}  # fmt: skip


def _free_ports(count: int) -> list[int]:
    """`count` distinct free ports in 25000-25999, all held at once while choosing."""
    held: list[socket.socket] = []
    try:
        for port in private_ports():
            probe = socket.socket()
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                probe.close()
                continue
            held.append(probe)
            if len(held) == count:
                return [h.getsockname()[1] for h in held]
    finally:
        for h in held:
            h.close()
    raise RuntimeError(f"fewer than {count} free ports in {describe(private_ports())}")


def _slo(alert: str) -> str:
    return (
        "availability_pct: 50\noverall: {latency: {p95: 5s}, error_rate_pct: 50}\n"
        f"experiments:\n  backend-down:\n    rto: 5m\n    detect_within: {{{alert}: 10s}}\n"
    )


def _gameday(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GAMEDAY, *args], cwd=cwd, capture_output=True, text=True, timeout=240, check=False
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The service, its backend behind a private Toxiproxy, and a private Prometheus that
    scrapes the backend through the proxy; a project folder with profile and experiment."""
    folder = tmp_path_factory.mktemp("project")
    proxy_port, toxiproxy_port, prometheus_port = _free_ports(3)
    with (
        serving() as service_url,
        metrics_server() as backend,
        private_toxiproxy_server(toxiproxy_port) as toxiproxy_url,
    ):
        backend.text = "backend_build_info 1\n"
        listen = f"127.0.0.1:{proxy_port}"
        with ToxiproxyClient(toxiproxy_url) as client:
            upstream = backend.url.removeprefix("http://")
            client.populate([Proxy(name="backend", listen=listen, upstream=upstream)])
        prometheus_dir = folder / "prometheus"
        with private_prometheus(
            prometheus_port, prometheus_dir, targets={"backend": listen}, rules=[RULE]
        ) as prometheus:
            (folder / "locustfile.py").write_text(
                "from locust import FastHttpUser, task\n\n\nclass Visitor(FastHttpUser):\n"
                "    @task\n    def home(self) -> None:\n        self.client.get('/')\n"
            )
            profile = {
                "name": "cheap", "base_url": service_url, "health_url": "/",
                "traffic": {"locustfile": "locustfile.py", "mixes": {"default": {"Visitor": 1}}},
                "toxiproxy": {"url": toxiproxy_url},
                "dependencies": {"backend": {"listen": listen, "upstream": backend.url[7:]}},
                "alerts": {"prometheus_url": prometheus.url},
            }  # fmt: skip
            (folder / "target.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
            (folder / "backend-down.json").write_text(json.dumps(EXPERIMENT, indent=2))
            yield {"folder": folder, "prometheus": prometheus, "toxiproxy_url": toxiproxy_url}


def _run(folder: Path, out: Path, alert: str = "BackendDown") -> list[str]:
    (folder / "slo.yaml").write_text(_slo(alert))
    return [
        "run", "--profile", str(folder / "target.yaml"), "--slo", str(folder / "slo.yaml"),
        "--rate", "10", "--duration", "18s",
        "--experiment", str(folder / "backend-down.json"), "--out", str(out),
    ]  # fmt: skip


def _events(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


def test_the_alert_fires_within_for_plus_scrape_evaluation_and_poll_and_the_report_says_so(
    world: dict[str, Any],
) -> None:
    folder, out = world["folder"], world["folder"] / "run-detect"
    result = _gameday(*_run(folder, out), cwd=folder)
    assert result.returncode == 0, result.stdout + result.stderr

    events = _events(out)
    (watched,) = [e for e in events if e["type"] == "alerts_watched"]
    assert watched["source"] == world["prometheus"].url and watched["alerts"] == ["BackendDown"]
    (injected,) = [e for e in events if e["type"] == "fault_injected"]
    (removed,) = [e for e in events if e["type"] == "fault_removed"]
    (firing,) = [e for e in events if e["type"] == "alert_firing"]
    (resolved,) = [e for e in events if e["type"] == "alert_resolved"]
    assert (firing["alert"], firing["labels"]["job"], firing["severity"]) == (
        "BackendDown",
        "backend",
        "critical",
    )
    detected = firing["t_s"] - injected["t_s"]
    # Prometheus sees the target down at its next scrape, marks the alert pending at its
    # next evaluation, fires it `for:` later; the harness sees it at its next poll.
    assert FOR_S <= detected <= FOR_S + SCRAPE_S + EVAL_S + POLL_S
    assert removed["t_s"] < resolved["t_s"] <= removed["t_s"] + SCRAPE_S + EVAL_S + POLL_S

    summary = json.loads((out / "summary.json").read_text())
    (check,) = [o for o in summary["objectives"] if o["metric"] == "alert_detected_after_s"]
    assert check["name"] == "backend-down detects BackendDown" and check["passed"]
    assert check["measured"] == pytest.approx(detected, abs=0.01)
    (seen,) = summary["experiments"][0]["alerts"]
    assert seen["resolved_after_removal_s"] == pytest.approx(
        resolved["t_s"] - removed["t_s"], abs=0.01
    )
    html = (out / "index.html").read_text()
    assert f"time to detect <b>{seen['detected_after_s']:.1f} s</b>" in html
    with ToxiproxyClient(world["toxiproxy_url"]) as client:
        assert client.proxies()["backend"].enabled  # the fault was removed


def test_detect_within_naming_an_alert_no_rule_defines_is_refused_before_any_load(
    world: dict[str, Any],
) -> None:
    folder, out = world["folder"], world["folder"] / "run-unknown"
    result = _gameday(*_run(folder, out, alert="BackendGone"), cwd=folder)
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert "detect_within names BackendGone" in line and "expected one of BackendDown" in line
    assert not out.exists() or not any(out.iterdir())  # nothing ran, nothing written


def test_prometheus_lost_while_watched_is_one_alerts_unreachable_event(tmp_path: Path) -> None:
    """The watcher of a run, on a second private Prometheus that stops: five failed polls
    in a row are one `alerts_unreachable` event, dated at the first; fewer are within the
    watcher's resolution. (That event makes the report's verdict ERROR:
    tests/unit/report/test_alert_detection.py.)"""
    (port,) = _free_ports(1)
    with private_prometheus(port, tmp_path / "prometheus", targets={}, rules=[RULE]) as doomed:
        watcher = AlertWatcher(doomed.url, tmp_path)
        watcher.poll(0.0)
        (watched,) = _events(tmp_path)
        assert (watched["type"], watched["alerts"]) == ("alerts_watched", ["BackendDown"])
        _stop(doomed)
    for second in range(1, 5):
        watcher.poll(float(second))
    assert [e["type"] for e in _events(tmp_path)] == ["alerts_watched"]
    watcher.poll(5.0)
    watcher.poll(6.0)  # still gone: the gap is recorded once
    (gap,) = [e for e in _events(tmp_path) if e["type"] == "alerts_unreachable"]
    assert gap["source"] == doomed.url and gap["polls_failed"] == 5
    assert "ConnectError" in gap["reason"]


def _stop(prometheus: PrivatePrometheus) -> None:
    prometheus.process.terminate()
    prometheus.process.wait(timeout=15)


def test_promql_probes_read_the_profiles_prometheus(world: dict[str, Any]) -> None:
    """The PromQL steady-state probes, on the real server: the profile names it."""
    from gameday.chaos import probes
    from gameday.errors import ConfigError

    configuration = {"gameday_profile": str(world["folder"] / "target.yaml")}
    up = 'up{job="backend"}'
    deadline = time.monotonic() + 30  # until Prometheus has scraped the backend once
    while probes.promql_value(up, configuration=configuration) is None:
        assert time.monotonic() < deadline, "Prometheus never scraped the backend"
        time.sleep(0.2)
    assert probes.promql_value(up, configuration=configuration) == 1.0
    assert probes.promql_below(up, 2, configuration=configuration)
    assert not probes.promql_below(up, 1, configuration=configuration)
    assert probes.promql_above(up, 0.5, configuration=configuration)
    # a series nothing measures never shows a steady state holding
    assert not probes.promql_below("no_such_metric", 1, configuration=configuration)
    assert not probes.promql_above("no_such_metric", -1, configuration=configuration)
    # an explicit server wins over the profile's; one that does not answer is one line
    nowhere = f"http://127.0.0.1:{_free_ports(1)[0]}"
    with pytest.raises(ConfigError, match="PromQL probe .* unreachable"):
        probes.promql_below(up, 2, prometheus_url=nowhere, configuration=configuration)
    with pytest.raises(ConfigError, match="no Prometheus server for a PromQL probe"):
        probes.promql_value(up)
