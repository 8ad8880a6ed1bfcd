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
import redis
from opensearchpy import OpenSearch
from prometheus_client.parser import text_string_to_metric_families

from gameday.settings import PROJECT_ROOT, StackSettings
from gameday.toxiproxy import Proxy, ToxiproxyClient
from service.settings import AuthSettings
from service.tenants.auth import issue_token
from tests.ports import describe, private_ports

T = TypeVar("T")

# What one indexed batch does to the generation of each tenant in it (service/indexer/
# consumer.py, Indexer._invalidate: at once, after the refresh, once more later).
INDEXER_BUMPS_PER_BATCH = 3


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

    def cache_generation(self, tenant: str) -> int:
        """The tenant's search-cache generation in Redis (service/search/cache.py's
        ``<prefix>gen:<tenant>``; 0 before anything bumped it)."""
        client = redis.Redis.from_url(self.env["SERVICE_REDIS_URL"], socket_timeout=5)
        try:
            raw = client.get(f"{self.env['SERVICE_REDIS_PREFIX']}gen:{tenant}")
        finally:
            client.close()
        return int(raw) if raw is not None else 0

    def wait_for_invalidations(self, tenant: str, *, writes: int, timeout_s: float = 20.0) -> None:
        """Waits until ``writes`` write requests have invalidated the tenant's cached
        searches for the last time, so that an answer cached afterwards stays cached.

        Each request bumps the generation once (the API) and its message three times more
        (the indexer: when the batch is indexed, after the next refresh, and again in case
        that refresh ran late: ``Indexer._invalidate``). That makes ``4 * writes`` when every
        request's message is indexed in a batch of its own: one request, or each made after
        the previous one's document was searchable. A higher count means that assumption
        did not hold, and another bump may still come: it fails rather than race.

            sut.wait_for_invalidations(tenant, writes=1)  # one POST, all its bumps done
        """
        expected = (1 + INDEXER_BUMPS_PER_BATCH) * writes

        def reached() -> int | None:
            generation = self.cache_generation(tenant)
            return generation if generation >= expected else None

        seen = wait_for(
            reached,
            timeout_s=timeout_s,
            what=f"tenant {tenant}'s cache generation at {expected} ({writes} write(s) indexed)",
        )
        assert seen == expected, (
            f"tenant {tenant}'s cache generation is {seen}, more than the {expected} that "
            f"{writes} write(s) each indexed in a batch of its own make"
        )


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


def wait_for(
    predicate: Callable[[], T | None], *, timeout_s: float, what: str, every_s: float = 0.1
) -> T:
    """Polls ``predicate`` until it returns something truthy, and returns that; fails after
    ``timeout_s`` naming what was awaited and the last value seen.

        wait_for(lambda: depth() == 3, timeout_s=10, what="the dlq depth gauge at 3")
    """
    deadline = time.monotonic() + timeout_s
    while True:
        last = predicate()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout_s}s waiting for {what} (last: {last!r})"
            )
        time.sleep(every_s)


def metric(url: str, name: str, **labels: str) -> float:
    """The sum of the samples named ``name`` on the service's /metrics whose labels
    include ``labels`` (0.0 when none has been written yet).

        # calls to RabbitMQ, whatever their outcome label
        metric(sut.url, "service_dependency_call_duration_seconds_count", dependency="rabbitmq")
    """
    text = httpx.get(f"{url}/metrics", timeout=5).text
    return sum(
        float(sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


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
    in tests.ports.private_ports() (25000-25999, or this session's half of it): other
    suites use 23xxx (a second stack), 24xxx and 26xxx."""
    ports = private_ports()
    for _ in range(200):
        port = random.choice(ports)
        if port in _handed_out:  # not bound yet (a proxy listens later): never twice
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no free port in {describe(ports)}")


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
