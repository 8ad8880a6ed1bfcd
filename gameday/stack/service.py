"""The reference search service: uvicorn with the app factory, pointed at the proxies.
Started as a command (``python -m service``) with an environment (service_env): the
harness never imports the service.

Clients may call it straight (``service_url``) or through the ``api`` proxy, which
lets experiments put faults between the load and the service.
"""

from __future__ import annotations

import shutil
import ssl
import sys
from pathlib import Path

import httpx

from gameday.settings import PROJECT_ROOT, StackSettings
from gameday.stack.component import Component, Health, Launch, proxy
from gameday.stack.service_env import service_env
from gameday.stack.tls import ensure_certificates, files_in
from gameday.toxiproxy import Proxy


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
        if self.settings.tls:
            ensure_certificates(self.settings.tls_dir)

    def launch(self) -> Launch:
        return Launch(
            argv=uvicorn_argv(self.settings.host, self.port, workers=self.settings.service_workers)
            + tls_argv(self.settings),
            env={
                **service_env(self.settings),
                "PROMETHEUS_MULTIPROC_DIR": str(self.metrics_dir),
            },
            cwd=PROJECT_ROOT,
        )

    async def check(self) -> Health:
        verify: ssl.SSLContext | bool = True
        if self.settings.tls:
            verify = ssl.create_default_context(cafile=files_in(self.settings.tls_dir).ca_cert)
        async with httpx.AsyncClient(timeout=2.0, verify=verify) as client:
            response = await client.get(f"{self.settings.service_url}/v1/health/ready")
            if response.status_code != 200:
                return Health(
                    healthy=False, error=f"ready: {response.status_code} {response.text[:200]}"
                )
            version = (await _openapi_version(client, self.settings.service_url)) or None
        return Health(healthy=True, version=version)


def tls_argv(settings: StackSettings) -> list[str]:
    """uvicorn's HTTPS options with the stack's certificate (``--tls``), else none."""
    if not settings.tls:
        return []
    files = files_in(settings.tls_dir)
    return ["--ssl-certfile", str(files.server_cert), "--ssl-keyfile", str(files.server_key)]


def uvicorn_argv(
    host: str, port: int, *, workers: int = 1, grace_s: int | None = None
) -> list[str]:
    """How the service is started, here and by the tests. On SIGTERM uvicorn stops
    accepting, waits up to ``grace_s`` (by default the service's own
    ``SERVICE_SHUTDOWN_GRACE_S``, read by ``python -m service``) for the requests in
    flight, then runs the lifespan's shutdown (outbox drain, pools closed) and exits 0."""
    grace = [] if grace_s is None else ["--timeout-graceful-shutdown", str(grace_s)]
    return [
        sys.executable,
        "-m",
        "service",  # uvicorn's command line; exits 0 after a graceful stop
        "--factory",
        "service.main:create_app",
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        *grace,
    ]


async def _openapi_version(client: httpx.AsyncClient, base_url: str) -> str:
    response = await client.get(f"{base_url}/openapi.json")
    return str(response.json().get("info", {}).get("version", ""))
