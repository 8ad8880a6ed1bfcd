"""The stack's Prometheus (gameday/stack/prometheus.py) against the session stack: it
scrapes the real service, loads rules.yml with the local `for:` values, and its own
parser accepts every dashboard expression, whose metrics the real /metrics exports."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import yaml

from gameday.settings import StackSettings
from gameday.stack.prometheus import LOCAL_FOR
from tests.unit.alerts.dashboard_exprs import ROOT, dashboard_exprs, metric_names, rule_exprs

WAIT_S = 30.0  # two scrape intervals and then some


def _api(settings: StackSettings, path: str, **params: str) -> Any:
    response = httpx.get(f"{settings.prometheus_url}/api/v1/{path}", params=params, timeout=5.0)
    body = response.json()
    assert body["status"] == "success", body
    return body["data"]


def _seconds(duration: str) -> float:
    return float(duration[:-1]) * {"s": 1, "m": 60, "h": 3600}[duration[-1]]


def test_prometheus_scrapes_the_service_and_the_harness_live_endpoint(
    stack: StackSettings,
) -> None:
    """The service is one target (it merges its workers); the harness's endpoint is the
    other, up only during a run (tests/integration/stack/test_harness_scrape.py)."""
    deadline = time.monotonic() + WAIT_S
    service: dict[str, Any] = {}
    targets: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        targets = {t["labels"]["job"]: t for t in _api(stack, "targets")["activeTargets"]}
        service = targets.get("service", {})
        if service.get("health") == "up":
            break
        time.sleep(0.5)
    assert {job: t["scrapeUrl"] for job, t in targets.items()} == {
        "service": f"{stack.service_url}/metrics",
        "gameday": f"http://{stack.host}:{stack.harness_metrics_port}/metrics",
    }
    assert service["health"] == "up", service["lastError"]
    (sample,) = _api(stack, "query", query='up{job="service"}')["result"]
    assert sample["value"][1] == "1"


def test_the_rules_are_loaded_with_the_local_for_values(stack: StackSettings) -> None:
    local_for = yaml.safe_load(LOCAL_FOR.read_text())
    rules = {r["name"]: r for g in _api(stack, "rules")["groups"] for r in g["rules"]}
    assert {name: r["duration"] for name, r in rules.items()} == {
        name: _seconds(v) for name, v in local_for.items()
    }
    assert all(r["health"] == "ok" for r in rules.values()), rules


def test_prometheus_parses_every_dashboard_and_rule_expression(stack: StackSettings) -> None:
    for where, expr in dashboard_exprs() + rule_exprs():
        response = httpx.get(
            f"{stack.prometheus_url}/api/v1/query", params={"query": expr}, timeout=5.0
        )
        assert response.status_code == 200, f"{where}: {response.text}"


def test_every_metric_the_dashboards_and_rules_name_is_on_the_real_metrics(
    stack: StackSettings,
) -> None:
    """Gauges and histograms must be on /metrics. A labelled counter is exported by the
    multiprocess client only from its first increment (service_dependency_rejected_total
    needs an open breaker), so a counter not yet seen must at least be a Counter of
    service/metrics.py: the unit test checks the names, this one what is really exported."""
    httpx.get(f"{stack.service_url}/v1/health/ready", timeout=5.0)  # at least one request
    exposed = httpx.get(f"{stack.service_url}/metrics", timeout=5.0).text
    families = {line.split()[2] for line in exposed.splitlines() if line.startswith("# TYPE ")}
    series = families | {f"{f}{s}" for f in families for s in ("_bucket", "_sum", "_count")}
    used = {m for _, expr in dashboard_exprs() + rule_exprs() for m in metric_names(expr)}
    if not stack.pg_replica:  # exported only with replicas (test_pg_replica.py checks both)
        used -= {"service_pg_replica_lag_seconds", "service_pg_replica_lag_bytes"}
    source = (ROOT / "service" / "metrics.py").read_text()
    counters = set(re.findall(r"\bCounter\(\s*\"([a-z0-9_]+)\"", source))
    not_yet = used - series
    assert not_yet <= counters, f"not exported by /metrics: {sorted(not_yet - counters)}"
    assert {"service_breaker_state", "service_queue_depth", "service_outbox_backlog"} <= used
    assert "service_http_request_duration_seconds_bucket" in series & used
