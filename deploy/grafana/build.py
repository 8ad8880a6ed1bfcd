"""Build the Grafana dashboards (provisioning JSON) in this folder.

    .venv/bin/python deploy/grafana/build.py          # rewrite service.json, gameday.json
    .venv/bin/python deploy/grafana/build.py --check  # exit 1 when they are stale

Plain dicts, no builder library: tests/unit/alerts/test_dashboards.py validates them
against a JSON Schema of what provisioning needs, parses every expression with promtool
and checks every metric name against service/metrics.py (the integration test against
the running service's /metrics and Prometheus's own parser).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
# health and scrape routes are not the service's traffic
ROUTES = 'route!~"unmatched|/metrics|/v1/health/.*|/health/.*"'
W = "[$__rate_interval]"  # Grafana's window for rate()
REQUESTS = f"service_http_requests_total{{{ROUTES}}}"
ERRORS = f'service_http_requests_total{{{ROUTES},status_class="5xx"}}'
P95_WARNING_S, P95_CRITICAL_S, ERROR_RATE_MAX = 0.5, 1.0, 0.01  # the design's thresholds
REPLICA_LAG_MAX_S = 30  # PostgresReplicaLagHigh (deploy/prometheus/rules.yml)


def _target(expr: str, legend: str, ref: str = "A") -> dict[str, Any]:
    return {"datasource": DATASOURCE, "expr": expr, "legendFormat": legend, "refId": ref}


def _slo_lines(unit: str, *steps: tuple[float, str]) -> dict[str, Any]:
    """Thresholds drawn as lines: the SLO values on the panel itself."""
    return {
        "unit": unit,
        "custom": {"thresholdsStyle": {"mode": "line"}},
        "thresholds": {
            "mode": "absolute",
            "steps": [{"color": "green", "value": None}]
            + [{"color": color, "value": value} for value, color in steps],
        },
    }


def _panel(
    pid: int,
    title: str,
    targets: list[dict[str, Any]],
    *,
    x: int,
    y: int,
    unit: str = "short",
    slo: list[tuple[float, str]] | None = None,
) -> dict[str, Any]:
    defaults = _slo_lines(unit, *slo) if slo else {"unit": unit}
    return {
        "id": pid,
        "type": "timeseries",
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "targets": targets,
    }


def _red_panels(first_id: int, y: int) -> list[dict[str, Any]]:
    bucket = f"service_http_request_duration_seconds_bucket{{{ROUTES}}}"
    return [
        _panel(
            first_id,
            "Rate per route",
            [
                _target(
                    f"sum by (route, method) (rate({REQUESTS}{W}))",
                    "{{method}} {{route}}",
                )
            ],
            x=0,
            y=y,
            unit="reqps",
        ),
        _panel(
            first_id + 1,
            "Error rate (5xx) per route",
            [
                _target(
                    f"sum by (route) (rate({ERRORS}{W})) / sum by (route) (rate({REQUESTS}{W}))",
                    "{{route}}",
                )
            ],
            x=12,
            y=y,
            unit="percentunit",
            slo=[(ERROR_RATE_MAX, "red")],
        ),
        _panel(
            first_id + 2,
            "P95 latency per route",
            [
                _target(
                    f"histogram_quantile(0.95, sum by (le, route) (rate({bucket}{W})))",
                    "{{route}}",
                )
            ],
            x=0,
            y=y + 8,
            unit="s",
            slo=[(P95_WARNING_S, "orange"), (P95_CRITICAL_S, "red")],
        ),
        _panel(
            first_id + 3,
            "P95 latency, all routes (the alert's expression)",
            [
                _target(
                    f"histogram_quantile(0.95, sum by (le) (rate({bucket}{W})))",
                    "p95",
                )
            ],
            x=12,
            y=y + 8,
            unit="s",
            slo=[(P95_WARNING_S, "orange"), (P95_CRITICAL_S, "red")],
        ),
    ]


def _dependency_panels(first_id: int, y: int) -> list[dict[str, Any]]:
    return [
        _panel(
            first_id,
            "Breaker state (0 closed, 1 half-open, 2 open)",
            [_target("max by (dependency) (service_breaker_state)", "{{dependency}}")],
            x=0,
            y=y,
            slo=[(2, "red")],
        ),
        _panel(
            first_id + 1,
            "Cache hit ratio per tier",
            [
                _target(
                    f'sum by (tier) (rate(service_cache_lookups_total{{result="hit"}}{W}))'
                    f" / sum by (tier) (rate(service_cache_lookups_total{W}))",
                    "{{tier}}",
                )
            ],
            x=12,
            y=y,
            unit="percentunit",
        ),
        _panel(
            first_id + 2,
            "Queue depth (index, dead-letter) and outbox backlog",
            [
                _target("max by (queue) (service_queue_depth)", "{{queue}}"),
                _target("max(service_outbox_backlog)", "outbox", "B"),
            ],
            x=0,
            y=y + 8,
            slo=[(1000, "orange")],
        ),
        _panel(
            first_id + 3,
            "Dependency errors and rejections (open breaker)",
            [
                _target(
                    f"sum by (dependency) (rate(service_dependency_errors_total{W}))",
                    "errors {{dependency}}",
                ),
                _target(
                    f"sum by (dependency) (rate(service_dependency_rejected_total{W}))",
                    "rejected {{dependency}}",
                    "B",
                ),
            ],
            x=12,
            y=y + 8,
            unit="ops",
        ),
    ]


def _replica_panels(first_id: int, y: int) -> list[dict[str, Any]]:
    """Empty without PostgreSQL replicas: the gauges exist only with them."""
    return [
        _panel(
            first_id,
            "PostgreSQL replica lag (time)",
            [_target("max by (replica) (service_pg_replica_lag_seconds)", "{{replica}}")],
            x=0,
            y=y,
            unit="s",
            slo=[(REPLICA_LAG_MAX_S, "orange")],
        ),
        _panel(
            first_id + 1,
            "PostgreSQL replica lag (WAL not replayed)",
            [_target("max by (replica) (service_pg_replica_lag_bytes)", "{{replica}}")],
            x=12,
            y=y,
            unit="bytes",
        ),
    ]


def _dashboard(uid: str, title: str, panels: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "tags": ["gameday"],
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "timezone": "utc",
        "refresh": "5s",
        "time": {"from": "now-30m", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "type": "datasource",
                    "query": "prometheus",
                    "label": "Prometheus",
                }
            ]
        },
        "annotations": {"list": extra.pop("annotations", [])},
        "panels": panels,
        **extra,
    }


def service_dashboard() -> dict[str, Any]:
    return _dashboard(
        "gameday-service",
        "Search service: RED, breakers, cache, queues, replica lag",
        _red_panels(1, 0) + _dependency_panels(5, 16) + _replica_panels(9, 32),
    )


def gameday_dashboard() -> dict[str, Any]:
    """The run's faults are annotations tagged `gameday` (deploy/grafana/annotate.py posts
    them from a run directory's events.jsonl); the SLO values are the panels' lines."""
    faults = {
        "name": "faults",
        "enable": True,
        "iconColor": "red",
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "target": {"type": "tags", "tags": ["gameday", "fault"], "matchAny": False, "limit": 100},
    }
    return _dashboard(
        "gameday-run",
        "Game day: faults over the SLO lines",
        _laid_out(_red_panels(1, 0)[1:4] + [_dependency_panels(5, 16)[i] for i in (0, 2)]),
        annotations=[faults],
    )


def _laid_out(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Renumber and place panels two per row (ids must be unique in a dashboard)."""
    for i, panel in enumerate(panels):
        panel["id"] = i + 1
        panel["gridPos"] = {"h": 8, "w": 12, "x": 12 * (i % 2), "y": 8 * (i // 2)}
    return panels


DASHBOARDS = {"service.json": service_dashboard, "gameday.json": gameday_dashboard}


def render(build: Any) -> str:
    return json.dumps(build(), indent=2) + "\n"


def main(argv: list[str]) -> int:
    stale = []
    for name, build in DASHBOARDS.items():
        path, text = HERE / name, render(build)
        if "--check" in argv:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        sys.stderr.write(f"{', '.join(stale)} stale: run `python deploy/grafana/build.py`\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
