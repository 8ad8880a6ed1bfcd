"""A namespace of its own (schema, queue, exchange, alias, key prefix) with private
proxies to PostgreSQL and RabbitMQ, for tests that stop services, cut the broker off or
need an indexer of their own (tracing): the session service and indexer never see it.
Services here start without an indexer; ``start_indexer`` adds one."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import pytest
from service_helpers import private_proxies

from gameday.settings import PROJECT_ROOT, StackSettings
from gameday.stack.service_env import service_env
from gameday.toxiproxy import ToxiproxyClient
from service.namespace import drop_namespace, namespace_env


@dataclass
class Namespace:
    stack: StackSettings
    env: dict[str, str]  # SERVICE_* for a service or an indexer in this namespace
    postgres_proxy: str
    amqp_proxy: str
    logs: Path

    def toxiproxy(self) -> ToxiproxyClient:
        return ToxiproxyClient(self.stack.toxiproxy_url)

    def outbox_rows(self) -> int:
        async def count() -> int:
            conn = await asyncpg.connect(self.stack.postgres_dsn, timeout=5)
            try:
                schema = self.env["SERVICE_POSTGRES_SCHEMA"]
                return int(await conn.fetchval(f'SELECT count(*) FROM "{schema}".outbox'))
            finally:
                await conn.close()

        return asyncio.run(count())

    def queue_messages(self, queue: str | None = None) -> list[dict[str, Any]]:
        """Takes every message off ``queue`` (the index queue by default), with headers."""

        async def drain() -> list[dict[str, Any]]:
            connection = await aio_pika.connect(self.stack.amqp_url, timeout=5)
            try:
                channel = await connection.channel()
                declared = await channel.declare_queue(
                    queue or self.env["SERVICE_AMQP_QUEUE"], passive=True
                )
                found = []
                while (message := await declared.get(no_ack=True, fail=False)) is not None:
                    found.append({"body": message.body, "headers": dict(message.headers or {})})
                return found
            finally:
                await connection.close()

        return asyncio.run(drain())

    def consumers(self) -> int:
        """Consumers of the index queue (0 while it does not exist)."""

        async def count() -> int:
            connection = await aio_pika.connect(self.stack.amqp_url, timeout=5)
            try:
                channel = await connection.channel()
                declared = await channel.declare_queue(self.env["SERVICE_AMQP_QUEUE"], passive=True)
                return int(declared.declaration_result.consumer_count or 0)
            except aio_pika.exceptions.ChannelClosed:
                return 0
            finally:
                await connection.close()

        return asyncio.run(count())

    def publish_to(self, queue: str, body: bytes) -> None:
        async def publish() -> None:
            connection = await aio_pika.connect(self.stack.amqp_url, timeout=5)
            try:
                channel = await connection.channel()
                await channel.default_exchange.publish(aio_pika.Message(body), routing_key=queue)
            finally:
                await connection.close()

        asyncio.run(publish())


@pytest.fixture(scope="module")
def namespace(
    stack: StackSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Namespace]:
    name = f"n{uuid.uuid4().hex[:10]}"
    with private_proxies(stack, name, ("postgres", "amqp")) as proxies:
        env = {
            **service_env(stack),  # the stack's OpenSearch and Redis; never the defaults
            **proxies.service_env(),
            **namespace_env(name),
            "SERVICE_POSTGRES_REPLICA_DSNS": "",
            "SERVICE_OPENSEARCH_REFRESH_INTERVAL": "200ms",
            "SERVICE_OUTBOX_POLL_INTERVAL_S": "0.2",
            "SERVICE_AMQP_PUBLISH_TIMEOUT_S": "2",
            "SERVICE_RESILIENCE_BREAKER_OPEN_DURATION_S": "1",
        }
        logs = tmp_path_factory.mktemp(name)
        try:
            yield Namespace(
                stack=stack,
                env=env,
                postgres_proxy=proxies.name("postgres"),
                amqp_proxy=proxies.name("amqp"),
                logs=logs,
            )
        finally:
            failures = drop_namespace(stack, env)
    assert not failures, f"could not drop namespace {name}: {failures}"


def start_indexer(
    ns: Namespace, service_env: dict[str, str], log_path: Path
) -> subprocess.Popen[bytes]:
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "service.indexer"],
            env={**os.environ, **service_env},
            cwd=PROJECT_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
