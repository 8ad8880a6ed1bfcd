"""The service under test: one uvicorn worker and one indexer, started for the session
on a free port, pointed at the stack's proxies, in their own namespace (PostgreSQL
schema, Redis key prefix, RabbitMQ queue and exchange, OpenSearch alias) so that they
never see the stack's own service, and torn down (with that namespace) at the end.
Tests stay independent of each other by using fresh tenants from ``new_tenant``.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import asyncpg
import httpx
import pytest
import redis
from opensearchpy import OpenSearch
from service_helpers import ServiceUnderTest, eventually

from gameday.chaos.toxiproxy import Proxy, ToxiproxyClient
from gameday.settings import PROJECT_ROOT, StackSettings
from service.settings import env_for_stack

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


def _start_uvicorn(port: int, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "uvicorn", "--factory", "service.main:create_app"]
    argv += ["--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            argv, env=env, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT
        )


def _wait_ready(url: str, procs: list[subprocess.Popen[bytes]], logs: Path) -> None:
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


def _wait_consumer(stack: StackSettings, queue: str) -> None:
    import aio_pika

    async def consumers() -> int:
        connection = await aio_pika.connect(stack.amqp_url, timeout=5)
        try:
            channel = await connection.channel()
            declared = await channel.declare_queue(queue, passive=True)
            return int(declared.declaration_result.consumer_count or 0)
        finally:
            await connection.close()

    eventually(lambda: asyncio.run(consumers()) >= 1 or None, timeout_s=START_TIMEOUT_S)


def _drop_namespace(stack: StackSettings, env: dict[str, str]) -> list[str]:
    schema = env["SERVICE_POSTGRES_SCHEMA"]

    async def drop_schema() -> None:
        conn = await asyncpg.connect(stack.postgres_dsn)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()

    async def drop_queues() -> None:
        import aio_pika

        connection = await aio_pika.connect(stack.amqp_url, timeout=5)
        try:
            channel = await connection.channel()
            queue = env["SERVICE_AMQP_QUEUE"]
            for name in (queue, f"{queue}.dlq"):
                await channel.queue_delete(name)
            await channel.exchange_delete(env["SERVICE_AMQP_EXCHANGE"])
        finally:
            await connection.close()

    def drop_search() -> None:
        search = OpenSearch(hosts=stack.opensearch_urls, timeout=15)
        alias = env["SERVICE_OPENSEARCH_ALIAS"]
        search.indices.delete(index=f"{alias}-v*", ignore=[404])
        search.indices.delete_index_template(name=f"{alias}-template", ignore=[404])
        search.close()

    def drop_keys() -> None:
        client = redis.Redis.from_url(stack.redis_url)
        keys = list(client.scan_iter(match=f"{env['SERVICE_REDIS_PREFIX']}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()

    # Every step runs even if one fails; the failures are reported together.
    failures: list[str] = []
    for step in (lambda: asyncio.run(drop_schema()), lambda: asyncio.run(drop_queues()),
                 drop_search, drop_keys):  # fmt: skip
        try:
            step()
        except Exception as exc:
            failures.append(repr(exc))
    return failures


@pytest.fixture(scope="session")
def service_under_test(
    stack: StackSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceUnderTest]:
    namespace = f"t{uuid.uuid4().hex[:10]}"
    port = free_port()
    env = {
        **os.environ,
        **env_for_stack(stack),
        "SERVICE_POSTGRES_SCHEMA": namespace,
        "SERVICE_REDIS_PREFIX": f"{namespace}:",
        "SERVICE_AMQP_QUEUE": f"{namespace}.index",
        "SERVICE_AMQP_EXCHANGE": namespace,
        "SERVICE_OPENSEARCH_ALIAS": namespace,
        "SERVICE_OPENSEARCH_REFRESH_INTERVAL": "200ms",
        "SERVICE_INDEXER_MAX_ATTEMPTS": "3",
        "SERVICE_INDEXER_BACKOFF_INITIAL_S": "0.05",
        "SERVICE_INDEXER_BACKOFF_MAX_S": "0.2",
        "SERVICE_OUTBOX_POLL_INTERVAL_S": "0.2",
    }
    # Private proxies in front of every dependency: a test can cut the broker off from this
    # service alone, and other suites' faults on the stack's shared proxies (chaos
    # experiments running at the same time) do not reach this service or open its breakers.
    amqp_proxy = f"{namespace}-amqp"
    ports = {name: free_port() for name in ("amqp", "opensearch", "redis", "postgres")}
    upstreams = {
        "amqp": stack.rabbitmq_port,
        "opensearch": stack.opensearch_port,
        "redis": stack.redis_port,
        "postgres": stack.postgres_port,
    }
    private_proxies = [f"{namespace}-{name}" for name in ports]
    with ToxiproxyClient(stack.toxiproxy_url) as toxiproxy:
        toxiproxy.populate(
            [
                Proxy(
                    name=f"{namespace}-{name}",
                    listen=f"127.0.0.1:{port}",
                    upstream=f"127.0.0.1:{upstreams[name]}",
                )
                for name, port in ports.items()
            ]
        )
    env["SERVICE_AMQP_URL"] = (
        f"amqp://{stack.amqp_user}:{stack.amqp_password}@127.0.0.1:{ports['amqp']}/"
    )
    env["SERVICE_OPENSEARCH_HOSTS"] = f"http://127.0.0.1:{ports['opensearch']}"
    env["SERVICE_REDIS_URL"] = f"redis://127.0.0.1:{ports['redis']}/0"
    env["SERVICE_POSTGRES_DSN"] = (
        f"postgresql://{stack.db_user}:{stack.db_password}@127.0.0.1:{ports['postgres']}/"
        f"{stack.db_name}"
    )
    env["SERVICE_AMQP_PUBLISH_TIMEOUT_S"] = "3"
    logs = tmp_path_factory.mktemp("service")
    # Multiprocess metrics, as the stack runs them (the indexer writes there too).
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path_factory.mktemp("metrics"))
    url = f"http://127.0.0.1:{port}"
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(_start_uvicorn(port, env, logs / "service.log"))
        _wait_ready(url, procs, logs)  # the service creates the topology and the index
        with open(logs / "indexer.log", "wb") as indexer_log:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "service.indexer"],
                    env=env,
                    cwd=PROJECT_ROOT,
                    stdout=indexer_log,
                    stderr=subprocess.STDOUT,
                )
            )
        _wait_consumer(stack, env["SERVICE_AMQP_QUEUE"])
        yield ServiceUnderTest(
            url=url, env=env, stack=stack, namespace=namespace, logs=logs, amqp_proxy=amqp_proxy
        )
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        cleanup_failures = _drop_namespace(stack, env)
        for name in private_proxies:
            httpx.delete(f"{stack.toxiproxy_url}/proxies/{name}", timeout=5.0)
    service_log_text = (logs / "service.log").read_text(errors="replace")
    # Any 500 is logged by our catch-all handler or by uvicorn; the broker outage test
    # makes aiormq log tracebacks of dropped connections, which are expected.
    for sign in ("unexpected error on", "Exception in ASGI application"):
        assert sign not in service_log_text, f"the service answered a 500; see {logs}"
    assert not cleanup_failures, f"could not drop namespace {namespace}: {cleanup_failures}"


@pytest.fixture
def new_tenant() -> Callable[[], str]:
    def make() -> str:
        return f"tenant-{uuid.uuid4().hex[:12]}"

    return make


@pytest.fixture
def naive_service(service_under_test: ServiceUnderTest) -> Iterator[ServiceUnderTest]:
    """A second service in the same namespace with the outbox off (the naive design)."""
    sut = service_under_test
    env = {**sut.env, "SERVICE_OUTBOX_ENABLED": "false"}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _start_uvicorn(port, env, sut.logs / "naive-service.log")
    try:
        _wait_ready(url, [proc], sut.logs)
        yield replace(sut, url=url, env=env)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
