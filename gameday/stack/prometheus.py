"""Prometheus 2.x from Debian's package: scrapes the service's /metrics (job `service`,
one target: it merges the workers and the indexer) and, during a run, the harness's own
live endpoint (job `gameday`, on ``harness_metrics_port``: down between runs), every
second, and evaluates deploy/prometheus/rules.yml with the local `for:` values of
deploy/prometheus/for-local.yml every second too (an alert's detection time is bounded
by a scrape plus an evaluation on top of its `for:`).

Debian's package would start a system instance on :9090; the installer stops that
(policy-rc.d), and this one runs in the state dir on ``prometheus_port``.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import httpx
import yaml

from gameday.settings import PROJECT_ROOT
from gameday.stack.component import Component, Health, Launch
from gameday.stack.tls import files_in

RULES_DIR = PROJECT_ROOT / "deploy" / "prometheus"
RULES_SOURCE = RULES_DIR / "rules.yml"
LOCAL_FOR = RULES_DIR / "for-local.yml"
SCRAPE_INTERVAL_S = 1  # and the evaluation interval


def rules_with_for(rules: dict[str, Any], for_by_alert: dict[str, str]) -> dict[str, Any]:
    """A copy of a rules file with each alert's ``for:`` replaced; every alert must be named.

    >>> rules_with_for(yaml.safe_load(RULES_SOURCE.read_text()), {"BreakerOpen": "10s", ...})
    """
    out = copy.deepcopy(rules)
    alerts = [r for g in out["groups"] for r in g["rules"] if "alert" in r]
    names = {r["alert"] for r in alerts}
    if names != set(for_by_alert):
        missing = sorted(names - set(for_by_alert))
        extra = sorted(set(for_by_alert) - names)
        raise ValueError(f"for: values do not match the rules: missing {missing}, unknown {extra}")
    for rule in alerts:
        rule["for"] = for_by_alert[rule["alert"]]
    return out


def local_rules() -> dict[str, Any]:
    """rules.yml with the local stack's short ``for:`` values."""
    return rules_with_for(
        yaml.safe_load(RULES_SOURCE.read_text()), yaml.safe_load(LOCAL_FOR.read_text())
    )


class Prometheus(Component):
    name = "prometheus"

    @property
    def port(self) -> int:
        return self.settings.prometheus_port

    def missing(self) -> str | None:
        if shutil.which("prometheus") is None:
            return "prometheus is not installed: run `make bootstrap`"
        return None

    @property
    def config_path(self) -> Path:
        return self.data_dir / "prometheus.yml"

    @property
    def rules_path(self) -> Path:
        return self.data_dir / "rules-local.yml"

    def scrape_config(self) -> dict[str, Any]:
        interval = f"{SCRAPE_INTERVAL_S}s"
        job: dict[str, Any] = {
            "job_name": "service",
            "scheme": self.settings.scheme,
            "metrics_path": "/metrics",
            # straight to the service, not through the `api` proxy: a fault on the
            # proxy must not blind the monitoring
            "static_configs": [{"targets": [f"{self.settings.host}:{self.settings.service_port}"]}],
        }
        if self.settings.tls:
            job["tls_config"] = {"ca_file": str(files_in(self.settings.tls_dir).ca_cert)}
        scrape_configs = [job]
        if self.settings.harness_metrics_port:
            harness = f"{self.settings.host}:{self.settings.harness_metrics_port}"
            scrape_configs.append(
                {
                    "job_name": "gameday",
                    "metrics_path": "/metrics",
                    "static_configs": [{"targets": [harness]}],
                }
            )
        return {
            "global": {"scrape_interval": interval, "evaluation_interval": interval},
            "rule_files": [str(self.rules_path)],
            "scrape_configs": scrape_configs,
        }

    def prepare(self) -> None:
        (self.data_dir / "tsdb").mkdir(parents=True, exist_ok=True)
        # rewritten on every start: rules.yml or the settings may have changed
        self.rules_path.write_text(yaml.safe_dump(local_rules(), sort_keys=False))
        self.config_path.write_text(yaml.safe_dump(self.scrape_config(), sort_keys=False))

    def launch(self) -> Launch:
        return Launch(
            argv=[
                "prometheus",
                f"--config.file={self.config_path}",
                f"--storage.tsdb.path={self.data_dir / 'tsdb'}",
                "--storage.tsdb.retention.time=2d",
                f"--web.listen-address={self.settings.host}:{self.port}",
                "--web.enable-lifecycle",  # POST /-/reload after editing the rules
            ],
            cwd=self.data_dir,
        )

    async def check(self) -> Health:
        async with httpx.AsyncClient(timeout=2.0) as client:
            ready = await client.get(f"{self.settings.prometheus_url}/-/ready")
            if ready.status_code != 200:
                return Health(healthy=False, error=f"ready: {ready.status_code}")
            info = await client.get(f"{self.settings.prometheus_url}/api/v1/status/buildinfo")
            version = str(info.json().get("data", {}).get("version", "")) or None
        return Health(healthy=True, version=version)


__all__ = ["Prometheus", "local_rules", "rules_with_for"]
