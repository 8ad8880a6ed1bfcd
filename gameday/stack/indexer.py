"""The indexer (``python -m service.indexer``): healthy while its heartbeat file is
fresh and says it is consuming. The file lives in the run dir, so the check needs no
dependency of its own (a Redis or broker outage should not hide a live indexer)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import orjson

from gameday.settings import PROJECT_ROOT
from gameday.stack.component import Component, Health, Launch
from gameday.stack.service_env import service_env

STALE_AFTER_S = 10.0


class Indexer(Component):
    name = "indexer"
    after_proxies = True

    @property
    def port(self) -> int:
        return 0  # listens on nothing

    @property
    def listen_ports(self) -> list[int]:
        return []

    @property
    def heartbeat_path(self) -> Path:
        return self.settings.run_dir / "indexer.heartbeat"

    def missing(self) -> str | None:
        return None

    def prepare(self) -> None:
        self.heartbeat_path.unlink(missing_ok=True)  # a stale file must not pass for a live one

    def launch(self) -> Launch:
        env = service_env(self.settings)
        env["SERVICE_INDEXER_HEARTBEAT_FILE"] = str(self.heartbeat_path)
        # The service's /metrics merges the indexer's values too (the service component
        # empties this folder when it starts, before the indexer).
        metrics_dir = self.settings.run_dir / "metrics"
        metrics_dir.mkdir(parents=True, exist_ok=True)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
        return Launch(argv=[sys.executable, "-m", "service.indexer"], env=env, cwd=PROJECT_ROOT)

    async def check(self) -> Health:
        try:
            state = orjson.loads(self.heartbeat_path.read_bytes())
        except FileNotFoundError:
            return Health(healthy=False, error="no heartbeat yet")
        age_s = time.time() - float(state.get("at", 0))
        if age_s > STALE_AFTER_S:
            return Health(healthy=False, error=f"heartbeat {age_s:.0f}s old")
        if not state.get("consuming"):
            return Health(healthy=False, error="not consuming (broker unreachable?)")
        version = (
            f"indexed {state.get('indexed', 0)}, dead-lettered {state.get('dead_lettered', 0)}"
        )
        return Health(healthy=True, version=version)
