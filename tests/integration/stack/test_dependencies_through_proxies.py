"""Every dependency answers a real protocol round trip through its Toxiproxy proxy."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import aio_pika
import asyncpg
import pytest
import redis
from opensearchpy import OpenSearch

from gameday.errors import ToxiproxyError
from gameday.settings import StackSettings
from gameday.toxiproxy import Toxic, ToxiproxyClient
from tests.integration.service.service_helpers import private_proxies


async def test_postgres_answers_select_1_through_its_proxy(stack: StackSettings) -> None:
    conn = await asyncpg.connect(stack.postgres_dsn, timeout=5)
    try:
        assert await conn.fetchval("select 1") == 1
        assert conn._addr[1] == stack.postgres_proxy_port  # type: ignore[attr-defined]
    finally:
        await conn.close()


def test_redis_ping_set_get_through_its_proxy(stack: StackSettings) -> None:
    client = redis.Redis.from_url(stack.redis_url, socket_timeout=5)
    key = f"test:{uuid.uuid4()}"
    try:
        assert client.ping() is True
        client.set(key, "value", ex=60)
        assert client.get(key) == b"value"
    finally:
        client.delete(key)
        client.close()


async def test_rabbitmq_publish_with_confirm_and_consume_through_its_proxy(
    stack: StackSettings,
) -> None:
    connection = await aio_pika.connect(stack.amqp_url, timeout=10)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        queue = await channel.declare_queue(f"test-{uuid.uuid4()}", auto_delete=True)
        body = uuid.uuid4().bytes
        confirmation = await channel.default_exchange.publish(
            aio_pika.Message(body=body), routing_key=queue.name
        )
        assert confirmation is not None  # awaited broker ack (publisher confirm)
        message = await queue.get(timeout=5)
        assert message is not None and message.body == body
        await message.ack()


def test_opensearch_indexes_and_searches_a_document_through_its_proxy(
    stack: StackSettings,
) -> None:
    client = OpenSearch(hosts=stack.opensearch_urls, timeout=30)
    index = f"test-{uuid.uuid4().hex}"
    try:
        client.indices.create(index=index, body={"settings": {"number_of_replicas": 0}})
        client.index(index=index, id="1", body={"title": "chaos engineering game day"})
        client.indices.refresh(index=index)
        hits = client.search(index=index, body={"query": {"match": {"title": "game"}}})["hits"]
        assert hits["total"]["value"] == 1
        assert hits["hits"][0]["_id"] == "1"
    finally:
        client.indices.delete(index=index, ignore_unavailable=True)
        client.close()


def _timed_ping(client: redis.Redis) -> float:
    started = time.perf_counter()
    assert client.ping() is True
    return time.perf_counter() - started


@dataclass(frozen=True)
class RedisProxy:
    """A Toxiproxy proxy of this test's own in front of the stack's Redis: its faults
    reach no one else (the stack's shared proxies may be in use by other suites)."""

    name: str
    url: str
    toxiproxy: ToxiproxyClient


@pytest.fixture
def redis_proxy(stack: StackSettings) -> Iterator[RedisProxy]:
    """Deleted afterwards, with whatever fault the test left on it."""
    prefix = f"deps-{uuid.uuid4().hex[:6]}"
    with (
        private_proxies(stack, prefix, ("redis",)) as proxies,
        ToxiproxyClient(stack.toxiproxy_url) as client,
    ):
        yield RedisProxy(
            name=proxies.name("redis"),
            url=proxies.service_env()["SERVICE_REDIS_URL"],
            toxiproxy=client,
        )


def test_latency_toxic_on_redis_slows_ping_and_its_removal_restores_speed(
    redis_proxy: RedisProxy,
) -> None:
    client = redis.Redis.from_url(redis_proxy.url, socket_timeout=5)
    try:
        baseline = min(_timed_ping(client) for _ in range(3))
        redis_proxy.toxiproxy.add_toxic(
            redis_proxy.name,
            Toxic(name="redis-latency-300ms", type="latency", attributes={"latency": 300}),
        )
        slowed = _timed_ping(client)
        redis_proxy.toxiproxy.remove_toxic(redis_proxy.name, "redis-latency-300ms")
        restored = min(_timed_ping(client) for _ in range(3))
    finally:
        client.close()
    assert slowed >= 0.300
    # "fast again": well under the toxic's 300 ms, allowing for a busy machine
    assert restored < 0.150, (baseline, restored)


def test_disabled_proxy_refuses_connections_and_enabling_restores_them(
    redis_proxy: RedisProxy,
) -> None:
    redis_proxy.toxiproxy.set_enabled(redis_proxy.name, False)
    client = redis.Redis.from_url(redis_proxy.url, socket_timeout=2, socket_connect_timeout=2)
    try:
        with pytest.raises(redis.ConnectionError):
            client.ping()
        redis_proxy.toxiproxy.set_enabled(redis_proxy.name, True)
        assert client.ping() is True
    finally:
        client.close()


def test_a_failed_injection_raises_instead_of_passing_silently(redis_proxy: RedisProxy) -> None:
    with pytest.raises(ToxiproxyError, match="no-such-proxy"):
        redis_proxy.toxiproxy.add_toxic("no-such-proxy", Toxic(name="x", type="latency"))
    with pytest.raises(ToxiproxyError, match="answered 4"):
        redis_proxy.toxiproxy.add_toxic(redis_proxy.name, Toxic(name="bad", type="no-such-toxic"))
    assert redis_proxy.toxiproxy.proxies()[redis_proxy.name].toxics == []
