"""The reference search service: uvicorn with the app factory, pointed at the proxies.

Clients may call it straight (``service_url``) or through the ``api`` proxy, which
lets experiments put faults between the load and the service.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import httpx

from gameday.chaos.toxiproxy import Proxy
from gameday.settings import PROJECT_ROOT
from gameday.stack.component import Component, Health, Launch, proxy
from service.settings import env_for_stack


class Service(Component):
    name = "service"
    after_proxies = True

    @property
    def port(self) -> int:
        return self.settings.service_port

    def proxies(self) -> list[Proxy]:
        return [proxy("api", self.settings.api_proxy_port, self.port)]

    def missing(self) -> str | None:
        return None  # installed with the package

    @property
    def metrics_dir(self) -> Path:
        """prometheus-client multiprocess files of every worker (and of the indexer)."""
        return self.settings.run_dir / "metrics"

    def prepare(self) -> None:
        # Values of dead processes must not be summed with the new ones.
        shutil.rmtree(self.metrics_dir, ignore_errors=True)
        self.metrics_dir.mkdir(parents=True, exist_ok=True)

    def launch(self) -> Launch:
        return Launch(
            argv=[
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "service.main:create_app",
                "--host",
                self.settings.host,
                "--port",
                str(self.port),
                "--workers",
                str(self.settings.service_workers),
                "--no-access-log",
            ],
            env={
                **env_for_stack(self.settings),
                "PROMETHEUS_MULTIPROC_DIR": str(self.metrics_dir),
            },
            cwd=PROJECT_ROOT,
        )

    async def check(self) -> Health:
        async with httpx.AsyncClient(timeout=2.0) as client:
            response = await client.get(f"{self.settings.service_url}/v1/health/ready")
        if response.status_code != 200:
            return Health(
                healthy=False, error=f"ready: {response.status_code} {response.text[:200]}"
            )
        version = (await _openapi_version(self.settings.service_url)) or None
        return Health(healthy=True, version=version)


async def _openapi_version(base_url: str) -> str:
    async with httpx.AsyncClient(timeout=2.0) as client:
        response = await client.get(f"{base_url}/openapi.json")
    return str(response.json().get("info", {}).get("version", ""))
