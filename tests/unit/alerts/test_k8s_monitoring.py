"""deploy/k8s/monitoring/: kubernetes-validate does not know prometheus-operator's kinds,
so the PrometheusRule is checked against rules.yml and promtool, and the ServiceMonitor
against the Service it must select in deploy/k8s/service.yaml."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
MONITORING = ROOT / "deploy" / "k8s" / "monitoring"


def _load(path: Path) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(path.read_text())
    return doc


def _service_manifests() -> dict[str, dict[str, Any]]:
    docs = yaml.safe_load_all((ROOT / "deploy" / "k8s" / "service.yaml").read_text())
    return {d["kind"]: d for d in docs if d["metadata"]["name"] == "search-service"}


def test_prometheusrule_groups_equal_rules_yml() -> None:
    rule = _load(MONITORING / "prometheusrule.yaml")
    assert rule["kind"] == "PrometheusRule"
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["spec"]["groups"] == _load(ROOT / "deploy" / "prometheus" / "rules.yml")["groups"]


def test_prometheusrule_file_is_what_render_writes() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "prometheus" / "render.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_promtool_accepts_the_prometheusrule_groups(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed: run `make bootstrap` (Debian package prometheus)")
    groups = {"groups": _load(MONITORING / "prometheusrule.yaml")["spec"]["groups"]}
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(groups))
    result = subprocess.run(
        [promtool, "check", "rules", str(tmp_path / "rules.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 8 rules found" in result.stdout


def test_servicemonitor_selects_the_service_and_its_metrics_port() -> None:
    monitor = _load(MONITORING / "servicemonitor.yaml")
    manifests = _service_manifests()
    service, deployment = manifests["Service"], manifests["Deployment"]
    assert monitor["kind"] == "ServiceMonitor"
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"].get("labels", {}).items()
    ports = {p.get("name"): p for p in service["spec"]["ports"]}
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in ports, f"no Service port named {endpoint['port']!r}"
    container_ports = {
        p["containerPort"]
        for c in deployment["spec"]["template"]["spec"]["containers"]
        for p in c["ports"]
    }
    assert ports[endpoint["port"]]["targetPort"] in container_ports
    assert endpoint["path"] == "/metrics"
