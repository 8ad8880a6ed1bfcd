"""Write deploy/k8s/monitoring/prometheusrule.yaml from rules.yml (production `for:`).

    .venv/bin/python deploy/prometheus/render.py          # rewrite the PrometheusRule
    .venv/bin/python deploy/prometheus/render.py --check  # exit 1 when it is stale

tests/unit/alerts/test_k8s_monitoring.py checks the two are equal.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
RULES = HERE / "rules.yml"
TARGET = HERE.parent / "k8s" / "monitoring" / "prometheusrule.yaml"
HEADER = (
    "# Generated from deploy/prometheus/rules.yml by deploy/prometheus/render.py: edit\n"
    "# rules.yml, then rerun it. The `release` label is what a kube-prometheus-stack\n"
    "# Prometheus selects rules by; change it to your Prometheus's ruleSelector.\n"
)


def prometheus_rule(rules: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "search-service",
            "labels": {"app": "search-service", "release": "kube-prometheus-stack"},
        },
        "spec": {"groups": rules["groups"]},
    }


def render() -> str:
    rules = yaml.safe_load(RULES.read_text())
    return HEADER + yaml.safe_dump(prometheus_rule(rules), sort_keys=False, width=100)


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not TARGET.exists() or TARGET.read_text() != text:
            sys.stderr.write(f"{TARGET} is stale: run `python deploy/prometheus/render.py`\n")
            return 1
        return 0
    TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
