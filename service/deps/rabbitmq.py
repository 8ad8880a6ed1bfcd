"""RabbitMQ: a robust connection, a channel with publisher confirms, the topology.

Topology: direct exchange ``documents`` -> durable queue ``documents.index``;
the indexer moves messages it gives up on to ``documents.index.dlq``.

The service starts without the broker: :class:`Broker` connects in the background
until it succeeds (the outbox keeps the writes meanwhile), then the robust connection
reconnects by itself. Until then every use raises :class:`BrokerUnavailable` (a 503).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

import aio_pika
import orjson
from aio_pika.exceptions import DeliveryError
from yarl import URL

from service import metrics, tracing
from service.settings import AmqpSettings

log = logging.getLogger("service.rabbitmq")
RECONNECT_EVERY_S = 1.0


class BrokerUnavailable(ConnectionError):
    """Not connected to RabbitMQ yet (start-up without the broker)."""


RECONNECT_INTERVAL_S = 1.0  # a cluster's clients: the next broker is tried this soon


class BrokerMovedOn(Exception):
    """No confirm in time from one broker of several, while another is left to try: the
    next attempt goes to the next broker. The relay's breaker ignores it (one node lost
    is not the cluster lost); once every broker has missed its confirms in a row, the
    timeout itself is raised and counts.

    Not a ConnectionError or TimeoutError on purpose: those count as failures."""


async def connect(settings: AmqpSettings, *, timeout_s: float = 10) -> Any:
    """A robust connection; with several brokers (``SERVICE_AMQP_URLS``), to the first
    that answers, moving on to the next whenever the current one is lost or refuses."""
    urls = settings.all_urls
    if len(urls) == 1:
        return await aio_pika.connect_robust(urls[0], timeout=timeout_s)
    failure: Exception | None = None
    for start in range(len(urls)):
        connection = RotatingConnection(urls, start=start, reconnect_interval=RECONNECT_INTERVAL_S)
        try:
            await connection.connect(timeout=timeout_s)
        except Exception as exc:
            failure = exc
            await connection.close()
            continue
        return connection
    assert failure is not None
    raise failure


class RotatingConnection(aio_pika.RobustConnection):
    """aio-pika's robust connection (channels, queues and consumers restored after a
    reconnection) over several brokers: each failed attempt moves to the next URL, so a
    lost node is replaced by a live one (aio-pika's own reconnects to one URL only)."""

    def __init__(self, urls: list[str], *, start: int = 0, **kwargs: Any) -> None:
        self._urls = [URL(u) for u in urls]
        self._current = start % len(urls)
        super().__init__(self._urls[self._current], **kwargs)

    def _next_url(self) -> None:
        self._current = (self._current + 1) % len(self._urls)
        self.url = self._urls[self._current]

    async def _RobustConnection__connect_transport(self) -> None:  # noqa: N802
        # RobustConnection's private attempt (name-mangled): a failed one rotates.
        try:
            await super()._RobustConnection__connect_transport()  # type: ignore[misc]
        except BaseException:
            self._next_url()
            raise

    async def _on_connection_close(self, closing: asyncio.Future[Any]) -> None:
        # the broker went away: the next attempt goes to the next one
        if not self._close_called:
            self._next_url()
        await super()._on_connection_close(closing)

    async def move_on(self) -> None:
        """Leave this broker for the next one (the robust reconnection does the rest): it
        answers but does not confirm, as a node cut from its cluster's majority does
        until it notices and pauses (net_ticktime: 10 s or more)."""
        transport = self.transport
        if transport is not None and not transport.connection.is_closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(
                    transport.connection.close(ConnectionError("no confirm in time")), 2.0
                )


class Broker:
    """The service's connection, made in the background: ``channel()`` and ``is_closed``
    behave like the robust connection's once it exists.

        broker = Broker(settings.amqp); broker.start()   # returns at once
        channel = await broker.channel()                  # BrokerUnavailable until connected
    """

    def __init__(self, settings: AmqpSettings) -> None:
        self._settings = settings
        self._connection: Any = None
        self._connecting: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    def start(self) -> None:
        self._connecting = asyncio.get_running_loop().create_task(
            self._connect_until_done(), name="amqp-connect"
        )

    async def _connect_until_done(self) -> None:
        failures = 0
        while True:
            try:
                self._connection = await connect(self._settings, timeout_s=5)
            except Exception as exc:
                failures += 1
                if failures == 1 or failures % 30 == 0:
                    log.warning("RabbitMQ unreachable (%d attempt(s)), retrying: %r", failures, exc)
                await asyncio.sleep(RECONNECT_EVERY_S)
                continue
            if failures:
                log.info("connected to RabbitMQ after %d failed attempt(s)", failures)
            self.connected.set()
            return

    @property
    def is_closed(self) -> bool:
        return self._connection is None or bool(self._connection.is_closed)

    async def move_on(self) -> None:
        """With several brokers, leave this one for the next (RotatingConnection)."""
        if isinstance(self._connection, RotatingConnection):
            await self._connection.move_on()

    async def channel(self, **kwargs: Any) -> Any:
        if self._connection is None:
            raise BrokerUnavailable("not connected to RabbitMQ yet")
        return await self._connection.channel(**kwargs)

    async def close(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connecting
        if self._connection is not None:
            await self._connection.close()


async def declare_topology(channel: Any, settings: AmqpSettings) -> Any:
    """Declares exchange, queue and dead-letter queue; returns the exchange."""
    exchange = await channel.declare_exchange(
        settings.exchange, aio_pika.ExchangeType.DIRECT, durable=True
    )
    arguments = settings.queue_arguments
    queue = await channel.declare_queue(settings.queue, durable=True, arguments=arguments)
    await queue.bind(exchange, routing_key=settings.queue)
    await channel.declare_queue(settings.dlq, durable=True, arguments=arguments)
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
        self._starting = asyncio.Lock()
        self._brokers = len(settings.all_urls)
        self._missed_in_a_row = 0  # brokers that gave no confirm in time, one after another

    async def start(self) -> None:
        async with self._starting:
            if self._exchange is not None:
                return
            self._channel = await self._connection.channel(publisher_confirms=True)
            self._exchange = await declare_topology(self._channel, self._settings)

    async def publish_many(
        self, payloads: list[dict[str, Any]], *, traceparents: list[str | None] | None = None
    ) -> None:
        """Returns once every message is confirmed; raises if any is not. Each message is
        published in its writer's trace when ``traceparents`` (one per payload) is given."""
        if not payloads:
            return
        if self._exchange is None:  # connected after start-up: channel and topology now
            await self.start()
        parents = traceparents or [None] * len(payloads)

        async def publish(payload: dict[str, Any], traceparent: str | None) -> None:
            with tracing.use_traceparent(traceparent):  # this task's own context
                await self._exchange.publish(
                    make_message(payload), routing_key=self._settings.queue
                )

        # Bounded: during a broker outage the relay must fail and back off, not hang.
        try:
            await asyncio.wait_for(
                asyncio.gather(*(publish(p, t) for p, t in zip(payloads, parents, strict=True))),
                timeout=self._settings.publish_timeout_s,
            )
        except RuntimeError as exc:
            # aio-pika says "connection closed" with a bare RuntimeError: the breaker and
            # the dependency-error counter must see a broker outage, not a success.
            if self._connection.is_closed or self._channel is None or self._channel.is_closed:
                raise BrokerUnavailable(f"RabbitMQ connection closed: {exc}") from exc
            raise
        except TimeoutError as exc:
            # No confirm within the timeout. On a cluster the broker may be cut from the
            # majority (it takes publishes it cannot replicate), or the queue's leader
            # may be moving: the next attempt goes to another broker. A single broker is
            # kept (there is no other).
            move_on = getattr(self._connection, "move_on", None)
            if move_on is None:
                raise
            await move_on()
            self._missed_in_a_row += 1
            if self._missed_in_a_row % self._brokers:
                raise BrokerMovedOn(
                    f"no confirm in {self._settings.publish_timeout_s:g} s from "
                    f"{self._missed_in_a_row} broker(s) in a row; trying the next"
                ) from exc
            raise
        except DeliveryError:
            # A nack. A channel that published to a quorum queue while its leader's node
            # was being lost (aio-pika restores the channel on a live broker within
            # milliseconds) is nacked on every publish afterwards, while a fresh channel
            # on the same broker is confirmed (RabbitMQ 3.10.8, reproduced by hand; see
            # docs/experiments.md, RabbitMQ: three nodes): the next attempt opens a new one.
            await self._drop_channel()
            raise
        self._missed_in_a_row = 0

    async def _drop_channel(self) -> None:
        async with self._starting:
            channel, self._channel, self._exchange = self._channel, None, None
        if channel is not None and not channel.is_closed:
            with contextlib.suppress(Exception):
                await channel.close()

    async def close(self) -> None:
        if self._channel is not None and not self._channel.is_closed:
            await self._channel.close()


async def queue_depths(channel: Any, settings: AmqpSettings) -> dict[str, int]:
    """Messages ready in the index queue and in the dead-letter queue (passive declares:
    nothing is created)."""
    depths: dict[str, int] = {}
    for role, name in (("index", settings.queue), ("dlq", settings.dlq)):
        # robust=False: a robust channel answers a repeated passive declare from its cache.
        queue = await channel.declare_queue(name, passive=True, robust=False)
        depths[role] = int(queue.declaration_result.message_count or 0)
    return depths


async def watch_queue_depths(broker: Broker, settings: AmqpSettings, *, every_s: float) -> None:
    """Runs until cancelled: the queue depth gauges, refreshed every ``every_s`` whatever
    the scrape rate. On failure the gauges keep their last value."""
    channel: Any = None
    await broker.connected.wait()
    while True:
        try:
            if channel is None or channel.is_closed:
                channel = await broker.channel()
            for role, depth in (await queue_depths(channel, settings)).items():
                metrics.queue_depth.labels(role).set(depth)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a passive declare of a missing queue closes the channel
            log.debug("could not read the queue depths: %r", exc)
            channel = None
        await asyncio.sleep(every_s)
