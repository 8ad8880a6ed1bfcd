"""The PromQL in deploy/grafana/*.json and deploy/prometheus/rules.yml, and the metric
names it uses, for the unit and integration tests."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
DASHBOARDS = sorted((ROOT / "deploy" / "grafana").glob("*.json"))
# Grafana's own variables, replaced by what Grafana would put there
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s"}
METRIC = re.compile(r"\bservice_[a-z0-9_]+\b")


def dashboard_exprs() -> list[tuple[str, str]]:
    """(dashboard: panel title, expression with Grafana's variables replaced)."""
    out = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel["targets"]:
                expr = target["expr"]
                for variable, value in GRAFANA_VARIABLES.items():
                    expr = expr.replace(variable, value)
                out.append((f"{path.name}: {panel['title']} [{target['refId']}]", expr))
    return out


def rule_exprs() -> list[tuple[str, str]]:
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "rules.yml").read_text())
    return [(f"rules.yml: {r['alert']}", r["expr"]) for g in rules["groups"] for r in g["rules"]]


def metric_names(expr: str) -> set[str]:
    return set(METRIC.findall(expr))
