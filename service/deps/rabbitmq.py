"""RabbitMQ: a robust connection, a channel with publisher confirms, the topology.

Topology: direct exchange ``documents`` -> durable queue ``documents.index``;
the indexer moves messages it gives up on to ``documents.index.dlq``.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import aio_pika
import orjson

from service.settings import AmqpSettings


async def connect(settings: AmqpSettings) -> Any:
    return await aio_pika.connect_robust(settings.url, timeout=10)


async def declare_topology(channel: Any, settings: AmqpSettings) -> Any:
    """Declares exchange, queue and dead-letter queue; returns the exchange."""
    exchange = await channel.declare_exchange(
        settings.exchange, aio_pika.ExchangeType.DIRECT, durable=True
    )
    queue = await channel.declare_queue(settings.queue, durable=True)
    await queue.bind(exchange, routing_key=settings.queue)
    await channel.declare_queue(settings.dlq, durable=True)
    return exchange


def make_message(payload: dict[str, Any], *, headers: dict[str, Any] | None = None) -> Any:
    return aio_pika.Message(
        body=orjson.dumps(payload),
        content_type="application/json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=uuid.uuid4().hex,
        headers=headers or {},
    )


class Publisher:
    """Publishes document events and waits for the broker's confirms."""

    def __init__(self, connection: Any, settings: AmqpSettings) -> None:
        self._connection = connection
        self._settings = settings
        self._channel: Any = None
        self._exchange: Any = None

    async def start(self) -> None:
        self._channel = await self._connection.channel(publisher_confirms=True)
        self._exchange = await declare_topology(self._channel, self._settings)

    async def publish_many(self, payloads: list[dict[str, Any]]) -> None:
        """Returns once every message is confirmed; raises if any is not."""
        if not payloads:
            return
        # Bounded: during a broker outage the relay must fail and back off, not hang.
        await asyncio.wait_for(
            asyncio.gather(
                *(
                    self._exchange.publish(make_message(p), routing_key=self._settings.queue)
                    for p in payloads
                )
            ),
            timeout=self._settings.publish_timeout_s,
        )

    async def close(self) -> None:
        if self._channel is not None and not self._channel.is_closed:
            await self._channel.close()
