"""Helpers shared by the service's integration tests (the fixtures live in conftest)."""

from __future__ import annotations

import random
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from opensearchpy import OpenSearch

from gameday.chaos.toxiproxy import Proxy, ToxiproxyClient
from gameday.settings import PROJECT_ROOT, StackSettings
from service.settings import AuthSettings
from service.tenants.auth import issue_token

T = TypeVar("T")


@dataclass
class ServiceUnderTest:
    url: str
    env: dict[str, str] = field(repr=False)
    stack: StackSettings
    namespace: str
    logs: Path
    amqp_proxy: str

    def set_broker_reachable(self, reachable: bool) -> None:
        """Enables or disables this service's private proxy to RabbitMQ."""
        with ToxiproxyClient(self.stack.toxiproxy_url) as client:
            client.set_enabled(self.amqp_proxy, reachable)

    def token(self, tenant: str, role: str = "user", ttl_s: float = 600) -> str:
        return issue_token(AuthSettings(), tenant=tenant, role=role, ttl_s=ttl_s)

    def client(self, tenant: str | None = None, role: str = "user") -> httpx.Client:
        headers = {"X-Synthetic": "gameday-tests"}
        if tenant is not None:
            headers["Authorization"] = f"Bearer {self.token(tenant, role)}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=15.0)

    @property
    def alias(self) -> str:
        return self.env["SERVICE_OPENSEARCH_ALIAS"]

    @property
    def queue(self) -> str:
        return self.env["SERVICE_AMQP_QUEUE"]

    def opensearch(self) -> OpenSearch:
        return OpenSearch(hosts=self.stack.opensearch_urls, timeout=15)


def eventually(
    probe: Callable[[], T | None], *, timeout_s: float = 20.0, every_s: float = 0.2
) -> T:
    """Polls until ``probe`` returns something truthy; fails with the last value otherwise."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every_s)
    raise AssertionError(f"condition not met within {timeout_s}s (last: {last!r})")


def make_document(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "title": f"document {uuid.uuid4().hex[:8]}",
        "body": "a body about nothing in particular",
        "tags": ["general"],
        "status": "published",
    }
    doc.update(overrides)
    return doc


def search_ids(client: httpx.Client, **params: Any) -> set[str]:
    response = client.get("/v1/search", params=params)
    assert response.status_code == 200, response.text
    return {hit["id"] for hit in response.json()["hits"]}


START_TIMEOUT_S = 60.0


_handed_out: set[int] = set()


def free_port() -> int:
    """A free loopback port below the ephemeral range (so no client socket can take it),
    in 25000-25999: other suites use 23xxx (a second stack), 24xxx and 26xxx."""
    for _ in range(200):
        port = random.randint(25000, 25999)
        if port in _handed_out:  # not bound yet (a proxy listens later): never twice
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            _handed_out.add(port)
            return port
    raise RuntimeError("no free port in 25000-25999")


def start_uvicorn(port: int, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "uvicorn", "--factory", "service.main:create_app"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            argv, env=env, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT
        )


def stop_processes(*procs: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM to all (they stop in parallel), then wait; SIGKILL what is left after 15 s."""
    running = [p for p in procs if p is not None]
    for proc in running:
        proc.terminate()
    for proc in running:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_ready(url: str, procs: list[subprocess.Popen[bytes]], logs: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    last = ""
    while time.monotonic() < deadline:
        for proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{proc.args!r} exited {proc.returncode}; see {logs}")
        try:
            response = httpx.get(f"{url}/v1/health/ready", timeout=2.0)
            if response.status_code == 200:
                return
            last = response.text
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.25)
    raise RuntimeError(f"service not ready within {START_TIMEOUT_S}s: {last}; see {logs}")


@dataclass(frozen=True)
class PrivateProxies:
    """A test's own proxies on the stack's Toxiproxy, in front of the stack's servers:
    a fault on one reaches only the service started with :meth:`service_env`."""

    stack: StackSettings
    prefix: str
    ports: dict[str, int]  # dependency (postgres, redis, amqp, opensearch) -> listen port

    def name(self, dependency: str) -> str:
        return f"{self.prefix}-{dependency}"

    def service_env(self) -> dict[str, str]:
        """The SERVICE_* addresses of the proxied dependencies."""
        s, env = self.stack, {}
        for dependency, port in self.ports.items():
            key, url = {
                "postgres": (
                    "SERVICE_POSTGRES_DSN",
                    f"postgresql://{s.db_user}:{s.db_password}@127.0.0.1:{port}/{s.db_name}",
                ),
                "redis": ("SERVICE_REDIS_URL", f"redis://127.0.0.1:{port}/0"),
                "amqp": (
                    "SERVICE_AMQP_URL",
                    f"amqp://{s.amqp_user}:{s.amqp_password}@127.0.0.1:{port}/",
                ),
                "opensearch": ("SERVICE_OPENSEARCH_HOSTS", f"http://127.0.0.1:{port}"),
            }[dependency]
            env[key] = url
        return env


@contextmanager
def private_proxies(
    stack: StackSettings, prefix: str, dependencies: tuple[str, ...]
) -> Iterator[PrivateProxies]:
    """Creates `<prefix>-<dependency>` proxies on free ports; deletes them afterwards."""
    upstreams = {
        "postgres": stack.postgres_port,
        "redis": stack.redis_port,
        "amqp": stack.rabbitmq_port,
        "opensearch": stack.opensearch_port,
    }
    proxies = PrivateProxies(stack, prefix, {d: free_port() for d in dependencies})
    with ToxiproxyClient(stack.toxiproxy_url) as client:
        client.populate(
            [
                Proxy(
                    name=proxies.name(d),
                    listen=f"127.0.0.1:{port}",
                    upstream=f"127.0.0.1:{upstreams[d]}",
                )
                for d, port in proxies.ports.items()
            ]
        )
    try:
        yield proxies
    finally:
        with ToxiproxyClient(stack.toxiproxy_url) as client:
            for dependency in dependencies:
                client.delete(proxies.name(dependency))
