"""deploy/grafana/: the dashboards are what build.py writes, fit Grafana's provisioning
format (a JSON Schema of the fields it needs), every expression parses (promtool) and names
only metrics that service/metrics.py defines."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.unit.alerts.dashboard_exprs import (
    DASHBOARDS,
    ROOT,
    dashboard_exprs,
    metric_names,
    rule_exprs,
)

sys.path.insert(0, str(ROOT / "deploy" / "grafana"))
from annotate import annotations_from_events  # noqa: E402 - a script, not a package

_REF = {"type": "object", "required": ["type", "uid"]}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["uid", "title", "schemaVersion", "panels", "templating", "annotations"],
    "properties": {
        "uid": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,40}$"},
        "schemaVersion": {"type": "integer", "minimum": 36},
        "panels": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "type", "title", "gridPos", "datasource", "targets"],
                "properties": {
                    "id": {"type": "integer"},
                    "type": {"enum": ["timeseries", "stat", "gauge", "table"]},
                    "datasource": _REF,
                    "gridPos": {
                        "type": "object",
                        "required": ["h", "w", "x", "y"],
                        "properties": {"w": {"maximum": 24}, "x": {"maximum": 23}},
                    },
                    "targets": {
                        "type": "array",
                        "minItems": 1,
                        "items": {"type": "object", "required": ["expr", "refId", "datasource"]},
                    },
                },
            },
        },
        "annotations": {
            "type": "object",
            "required": ["list"],
            "properties": {
                "list": {"type": "array", "items": {"required": ["name", "datasource"]}}
            },
        },
    },
}


def _defined_metrics() -> set[str]:
    """Names in service/metrics.py, with a histogram's _bucket, _sum and _count series."""
    source = (ROOT / "service" / "metrics.py").read_text()
    names = set()
    for kind, name in re.findall(r"\b(Counter|Gauge|Histogram)\(\s*\"([a-z0-9_]+)\"", source):
        names.add(name)
        if kind == "Histogram":
            names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    return names


def test_dashboards_are_what_build_writes() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "grafana" / "build.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("path", DASHBOARDS, ids=[p.name for p in DASHBOARDS])
def test_dashboard_fits_the_provisioning_schema(path: Path) -> None:
    dashboard = json.loads(path.read_text())
    jsonschema.validate(dashboard, SCHEMA)
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), f"duplicate panel ids {ids}"


def test_the_two_dashboards_exist_and_the_gameday_one_shows_faults() -> None:
    assert [p.name for p in DASHBOARDS] == ["gameday.json", "service.json"]
    gameday = json.loads((ROOT / "deploy" / "grafana" / "gameday.json").read_text())
    (faults,) = gameday["annotations"]["list"]
    assert faults["target"]["tags"] == ["gameday", "fault"]
    slo_values = {
        step["value"]
        for p in gameday["panels"]
        for step in p["fieldConfig"]["defaults"].get("thresholds", {}).get("steps", [])
    }
    assert {0.5, 1.0, 0.01} <= slo_values  # P95 warning, P95 critical, error rate


def test_every_expression_parses_with_promtool(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed: run `make bootstrap` (Debian package prometheus)")
    exprs = dashboard_exprs()
    rules = [{"record": f"panel:{i}", "expr": expr} for i, (_, expr) in enumerate(exprs)]
    (tmp_path / "panels.yml").write_text(
        yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]})
    )
    result = subprocess.run(
        [promtool, "check", "rules", str(tmp_path / "panels.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in result.stdout


def test_a_broken_expression_is_refused_by_the_same_check(tmp_path: Path) -> None:
    promtool = shutil.which("promtool") or pytest.fail("promtool is not installed")
    rules = {"groups": [{"name": "p", "rules": [{"record": "r", "expr": "sum(rate(x[1m])"}]}]}
    (tmp_path / "bad.yml").write_text(yaml.safe_dump(rules))
    result = subprocess.run(
        [promtool, "check", "rules", str(tmp_path / "bad.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0


@pytest.mark.parametrize(
    ("where", "expr"),
    dashboard_exprs() + rule_exprs(),
    ids=[w for w, _ in dashboard_exprs() + rule_exprs()],
)
def test_expression_names_only_metrics_the_service_defines(where: str, expr: str) -> None:
    used = metric_names(expr)
    assert used, f"{where}: no service metric in {expr}"
    assert used <= _defined_metrics(), f"{where}: unknown {sorted(used - _defined_metrics())}"


def test_faults_become_region_annotations() -> None:
    lines = [
        '{"type": "load_started", "epoch": 100.0, "t_s": 0}',
        '{"type": "fault_injected", "epoch": 110.5, "name": "redis-down", "target": "redis",'
        ' "fault": "down"}',
        '{"type": "fault_removed", "epoch": 130.0, "name": "redis-down", "target": "redis"}',
        '{"type": "fault_injected", "epoch": 140.0, "name": "api-latency", "target": "api",'
        ' "fault": "latency"}',
        '{"type": "load_stopped", "epoch": 150.0, "t_s": 50}',
    ]
    annotations = annotations_from_events(lines, "run-1")
    assert [(a["time"], a["timeEnd"], a["text"]) for a in annotations] == [
        (110500, 130000, "redis-down: down on redis"),
        (140000, 150000, "api-latency: latency on api"),  # never removed: ends with the run
    ]
    assert annotations[0]["tags"] == ["gameday", "fault", "redis-down", "run:run-1"]
