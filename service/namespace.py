"""A private namespace of the service's stores, and dropping it.

A service instance can run in its own namespace (SERVICE_POSTGRES_SCHEMA,
SERVICE_AMQP_QUEUE/EXCHANGE, SERVICE_OPENSEARCH_ALIAS, SERVICE_REDIS_PREFIX),
as the service tests and the benchmarks do beside the shared stack.

    env = {**service_env(stack), **namespace_env("t1a2b3c")}   # gameday.stack.service_env
    failures = drop_namespace(stack, env)  # [] when everything was dropped

`stack` is anything with the stores' addresses (`Stores`): the harness's StackSettings
is one, without this module importing it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

import aio_pika
import asyncpg
import redis
from opensearchpy import OpenSearch


class Stores(Protocol):
    """Where the stores answer (the harness's StackSettings has these properties)."""

    @property
    def postgres_dsn(self) -> str: ...
    @property
    def amqp_url(self) -> str: ...
    @property
    def opensearch_urls(self) -> list[str]: ...
    @property
    def redis_url(self) -> str: ...


def namespace_env(name: str) -> dict[str, str]:
    """The settings that put a service (and its indexer) in namespace `name`."""
    return {
        "SERVICE_POSTGRES_SCHEMA": name,
        "SERVICE_REDIS_PREFIX": f"{name}:",
        "SERVICE_AMQP_QUEUE": f"{name}.index",
        "SERVICE_AMQP_EXCHANGE": name,
        "SERVICE_OPENSEARCH_ALIAS": name,
    }


def drop_namespace(stack: Stores, env: dict[str, str]) -> list[str]:
    """Drop what a namespaced service created; every step runs, failures are returned."""
    schema, queue = env["SERVICE_POSTGRES_SCHEMA"], env["SERVICE_AMQP_QUEUE"]

    async def drop_schema() -> None:
        conn = await asyncpg.connect(stack.postgres_dsn)
        try:
            # an identifier can't be a bound parameter; the name is ours ([a-z0-9_])
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()

    async def drop_queues() -> None:
        connection = await aio_pika.connect(stack.amqp_url, timeout=5)
        try:
            channel = await connection.channel()
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

    steps: list[Callable[[], None]] = [
        lambda: asyncio.run(drop_schema()),
        lambda: asyncio.run(drop_queues()),
        drop_search,
        drop_keys,
    ]
    failures: list[str] = []
    for step in steps:
        try:
            step()
        except Exception as exc:  # every step runs; the failures are reported together
            failures.append(repr(exc))
    return failures
