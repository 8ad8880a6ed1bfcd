"""The service under test: one uvicorn worker and one indexer, started for the session
on a free port, pointed at the stack's proxies, in their own namespace (PostgreSQL
schema, Redis key prefix, RabbitMQ queue and exchange, OpenSearch alias) so that they
never see the stack's own service, and torn down (with that namespace) at the end.
Tests stay independent of each other by using fresh tenants from ``new_tenant``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from auth_keys import write_keyset
from service_helpers import (
    START_TIMEOUT_S,
    ServiceUnderTest,
    eventually,
    free_port,
    private_proxies,
    start_uvicorn,
    stop_processes,
    wait_ready,
)

from gameday.settings import PROJECT_ROOT, StackSettings
from gameday.stack.service_env import service_env
from service.namespace import drop_namespace, namespace_env


def _wait_consumer(stack: StackSettings, queue: str) -> None:
    import aio_pika

    async def consumers() -> int:
        connection = await aio_pika.connect(stack.amqp_url, timeout=5)
        try:
            channel = await connection.channel()
            try:
                declared = await channel.declare_queue(queue, passive=True)
            except aio_pika.exceptions.ChannelNotFoundEntity:
                return 0  # the indexer has not declared it yet (the service does so lazily)
            return int(declared.declaration_result.consumer_count or 0)
        finally:
            await connection.close()

    eventually(lambda: asyncio.run(consumers()) >= 1 or None, timeout_s=START_TIMEOUT_S)


@pytest.fixture(scope="session")
def service_under_test(
    stack: StackSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceUnderTest]:
    namespace = f"t{uuid.uuid4().hex[:10]}"
    port = free_port()
    env = {
        **os.environ,
        **service_env(stack),
        **namespace_env(namespace),
        "SERVICE_OPENSEARCH_REFRESH_INTERVAL": "200ms",
        "SERVICE_INDEXER_MAX_ATTEMPTS": "3",
        "SERVICE_INDEXER_BACKOFF_INITIAL_S": "0.05",
        "SERVICE_INDEXER_BACKOFF_MAX_S": "0.2",
        "SERVICE_OUTBOX_POLL_INTERVAL_S": "0.2",
    }
    # Private proxies in front of every dependency: a test can cut the broker off from this
    # service alone, and other suites' faults on the stack's shared proxies (chaos
    # experiments running at the same time) do not reach this service or open its breakers.
    dependencies = ("amqp", "opensearch", "redis", "postgres")
    with private_proxies(stack, namespace, dependencies) as proxies:
        env.update(proxies.service_env())
        env["SERVICE_AMQP_PUBLISH_TIMEOUT_S"] = "3"
        # A key set with retired keys (tests/integration/service/auth_keys.py): rotation is
        # tested.
        env["SERVICE_AUTH_KEYS_FILE"] = str(write_keyset(tmp_path_factory.mktemp("keys")))
        logs = tmp_path_factory.mktemp("service")
        # Multiprocess metrics, as the stack runs them (the indexer writes there too).
        env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path_factory.mktemp("metrics"))
        url = f"http://127.0.0.1:{port}"
        procs: list[subprocess.Popen[bytes]] = []
        try:
            procs.append(start_uvicorn(port, env, logs / "service.log"))
            wait_ready(url, procs, logs)  # the service creates the topology and the index
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
                url=url,
                env=env,
                stack=stack,
                namespace=namespace,
                logs=logs,
                amqp_proxy=proxies.name("amqp"),
            )
        finally:
            stop_processes(*procs)
            cleanup_failures = drop_namespace(stack, env)
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
    proc = start_uvicorn(port, env, sut.logs / "naive-service.log")
    try:
        wait_ready(url, [proc], sut.logs)
        yield replace(sut, url=url, env=env)
    finally:
        stop_processes(proc)
