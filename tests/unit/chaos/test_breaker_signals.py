"""Breaker states come from the target profile's signals: a Prometheus text endpoint or
a Prometheus server, mapped to closed / half-open / open by the profile. Read from a real
HTTP server; a source that stops answering is recorded, so the report says ERROR."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gameday.chaos.breakers import BreakerWatcher, SignalsUnreachable, read_breakers
from gameday.target import Signals
from tests.metrics_server import MetricsServer, metrics_server

RESILIENCE4J = """\
# HELP resilience4j_circuitbreaker_state The states of the circuit breaker
# TYPE resilience4j_circuitbreaker_state gauge
resilience4j_circuitbreaker_state{name="payments",state="closed"} {payments_closed}
resilience4j_circuitbreaker_state{name="payments",state="open"} {payments_open}
resilience4j_circuitbreaker_state{name="payments",state="half_open"} 0.0
resilience4j_circuitbreaker_state{name="stock",state="closed"} 1.0
resilience4j_circuitbreaker_state{name="stock",state="open"} 0.0
resilience4j_circuitbreaker_state{name="stock",state="half_open"} 0.0
"""


def _r4j(*, payments: str) -> str:
    return RESILIENCE4J.replace(
        "{payments_closed}", "1.0" if payments == "closed" else "0.0"
    ).replace("{payments_open}", "1.0" if payments == "open" else "0.0")


def _r4j_signals(**source: str) -> Signals:
    states = {"closed": {"state": "closed"}, "half-open": {"state": "half_open"}}
    states["open"] = {"state": "open"}
    return Signals.model_validate(
        {
            **source,
            "breakers": {
                name: {
                    "metric": "resilience4j_circuitbreaker_state",
                    "labels": {"name": name},
                    "states": states,
                }
                for name in ("payments", "stock", "ledger")
            },
        }
    )


def test_a_resilience4j_mapping_reads_each_breakers_state_from_a_text_endpoint() -> None:
    with metrics_server() as server:
        server.text = _r4j(payments="open")
        signals = _r4j_signals(metrics_url=f"{server.url}/metrics")
        assert read_breakers(signals) == {
            "payments": "open",
            "stock": "closed",
            "ledger": "unknown",
        }
        server.text = _r4j(payments="closed")
        assert read_breakers(signals)["payments"] == "closed"


def test_a_gauge_mapping_reads_the_value_as_the_state() -> None:
    signals = Signals.model_validate(
        {
            "metrics_url": "http://placeholder/metrics",
            "breakers": {
                "postgres": {
                    "metric": "service_breaker_state",
                    "labels": {"dependency": "postgres"},
                    "values": {0: "closed", 1: "half-open", 2: "open"},
                }
            },
        }
    )
    with metrics_server() as server:
        server.text = 'service_breaker_state{dependency="postgres"} 1.0\n'
        states = read_breakers(signals, metrics_url=f"{server.url}/metrics")  # --target moved it
        assert states == {"postgres": "half-open"}


def test_a_prometheus_server_is_asked_with_promql_per_breaker() -> None:
    with metrics_server() as server:
        signals = _r4j_signals(prometheus_url=server.url)
        query = 'resilience4j_circuitbreaker_state{name="payments"}'
        server.series[query] = [
            {"metric": {"name": "payments", "state": s}, "value": [0, v]}
            for s, v in (("closed", "0"), ("open", "0"), ("half_open", "1"))
        ]
        assert read_breakers(signals)["payments"] == "half-open"
        assert query in server.queries


def test_an_unreachable_source_raises_naming_the_url() -> None:
    with metrics_server() as server:
        url = f"{server.url}/metrics"
    with pytest.raises(SignalsUnreachable) as raised:  # the server is gone now
        read_breakers(_r4j_signals(metrics_url=url), timeout_s=0.5)
    assert raised.value.url == url and "\n" not in str(raised.value)


def _events(run_dir: Path) -> list[dict[str, object]]:
    path = run_dir / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _poll_then_open(watcher: BreakerWatcher, server: MetricsServer) -> None:
    for second in range(3):
        watcher.poll(float(second))
    server.text = _r4j(payments="open")
    watcher.poll(3.0)


def test_the_watcher_puts_transitions_and_an_unreachable_gap_on_the_timeline(
    tmp_path: Path,
) -> None:
    with metrics_server() as server:
        server.text = _r4j(payments="closed")
        watcher = BreakerWatcher(_r4j_signals(metrics_url=f"{server.url}/metrics"), tmp_path)
        _poll_then_open(watcher, server)
    transitions = [e for e in _events(tmp_path) if e["type"] == "breaker_transition"]
    assert [(e["dependency"], e["from_state"], e["to_state"]) for e in transitions] == [
        ("payments", "closed", "open")
    ]
    # the source is gone: four failed polls are within the watcher's resolution ...
    for second in range(4, 8):
        watcher.poll(float(second))
    assert not [e for e in _events(tmp_path) if e["type"] == "signals_unreachable"]
    # ... the fifth in a row is a gap, recorded once
    for second in range(8, 12):
        watcher.poll(float(second))
    (gap,) = [e for e in _events(tmp_path) if e["type"] == "signals_unreachable"]
    assert gap["source"] == f"{server.url}/metrics" and gap["polls_failed"] == 5
    assert "ConnectError" in str(gap["reason"])
