"""The queue consumer. Messages are acknowledged only after OpenSearch accepted them
(or after they are safely in the dead-letter queue), so a crash redelivers them.

Two kinds of failure:
- the whole bulk request fails (OpenSearch down, timeout, 429, 5xx): retried with
  backoff for as long as it takes; messages stay unacknowledged, nothing is lost;
- an item fails: retried with backoff up to ``max_attempts`` times, then dead-lettered.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import aio_pika
import orjson
import redis.asyncio as aioredis
from aio_pika.exceptions import AMQPError, ChannelInvalidStateError
from opensearchpy import AsyncOpenSearch
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import TransportError
from opentelemetry.trace import SpanKind

from service import metrics, tracing
from service.deps import opensearch as opensearch_dep
from service.deps import rabbitmq as rabbitmq_dep
from service.deps import redis as redis_dep
from service.indexer.bulk import (
    SUPERSEDED,
    Event,
    InvalidEvent,
    Outcome,
    bulk_lines,
    classify_item,
    parse_event,
    parse_message,
)
from service.resilience import backoff_s, indexer_backoff
from service.settings import Settings

log = logging.getLogger("service.indexer")
T = TypeVar("T")
HEARTBEAT_EVERY_S = 2.0


class Indexer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._inbox: asyncio.Queue[_Delivery] = asyncio.Queue()
        self._stop = asyncio.Event()
        self._wait = indexer_backoff(
            initial_s=settings.indexer.backoff_initial_s, max_s=settings.indexer.backoff_max_s
        )
        self.indexed = 0
        self.dead_lettered = 0
        self.redelivered = 0
        self._connection: Any = None
        self._channel: Any = None
        self._opensearch: AsyncOpenSearch | None = None
        self._redis: aioredis.Redis | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._consuming = False

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        settings = self.settings
        self._opensearch = opensearch_dep.create_client(settings.opensearch)
        self._redis = redis_dep.create_client(settings.redis)
        heartbeat = asyncio.get_running_loop().create_task(self._beat())
        try:
            client = self._opensearch
            await self._until_ready(
                lambda: opensearch_dep.ensure_index(client, settings.opensearch)
            )
            self._connection = await self._until_ready(lambda: rabbitmq_dep.connect(settings.amqp))
            self._channel = await self._connection.channel(publisher_confirms=True)
            # Messages, not events: an envelope holds up to 500 documents.
            await self._channel.set_qos(prefetch_count=settings.indexer.prefetch)
            await rabbitmq_dep.declare_topology(self._channel, settings.amqp)
            queue = await self._channel.declare_queue(
                settings.amqp.queue, durable=True, arguments=settings.amqp.queue_arguments
            )
            tag = await queue.consume(self._deliver)
            log.info("indexer consuming %s", settings.amqp.queue)
            self._consuming = True
            # Batches in flight at once: OpenSearch indexes one bulk per shard on one
            # thread, so two keep both cores busy; external versions make order irrelevant.
            workers = asyncio.gather(*(self._work() for _ in range(settings.indexer.concurrency)))
            stopping = asyncio.ensure_future(self._stop.wait())
            either: set[asyncio.Future[Any]] = {workers, stopping}
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            if workers.done():  # a worker failed: the process exits and is restarted
                stopping.cancel()
                await workers
            # SIGTERM: no new deliveries; the batches in hand finish and are acked.
            self._consuming = False
            await queue.cancel(tag)
            await workers
            requeued = await self._requeue_inbox()
            log.info("indexer stopped: batches in hand done, %d message(s) requeued", requeued)
        finally:
            heartbeat.cancel()
            self._consuming = False
            self._write_heartbeat()
            if self._connection is not None:
                await self._connection.close()
            await self._opensearch.close()
            await self._redis.aclose(close_connection_pool=True)
            tracing.shutdown_tracing()

    async def _requeue_inbox(self) -> int:
        """Delivered but not taken into a batch: back to the queue for the next indexer."""
        count = 0
        while not self._inbox.empty():
            delivery = self._inbox.get_nowait()
            try:
                await delivery.message.nack(requeue=True)
                count += 1
            except Exception as exc:  # the channel is gone: the broker requeues them anyway
                log.debug("could not requeue a message: %r", exc)
        return count

    def _write_heartbeat(self) -> None:
        """What `gameday stack status` reads: fresh, consuming, connected, counts."""
        path = self.settings.indexer.heartbeat_file
        if path is None:
            return
        connected = self._connection is not None and not self._connection.is_closed
        state = {
            "pid": os.getpid(),
            "at": time.time(),
            "consuming": self._consuming and connected,
            "indexed": self.indexed,
            "dead_lettered": self.dead_lettered,
            "redelivered": self.redelivered,
        }
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(orjson.dumps(state))
        tmp.replace(path)

    async def _beat(self) -> None:
        while True:
            try:
                self._write_heartbeat()
            except OSError as exc:
                log.warning("could not write the heartbeat: %r", exc)
            await asyncio.sleep(HEARTBEAT_EVERY_S)

    async def _until_ready(self, factory: Callable[[], Awaitable[T]]) -> T:
        # Start-up must survive dependencies that come up after us (one minute).
        for attempt in range(1, 61):
            try:
                return await factory()
            except Exception as exc:
                if attempt == 60 or self._stop.is_set():
                    raise
                log.warning("waiting for a dependency: %r", exc)
                await asyncio.sleep(1.0)
        raise AssertionError("unreachable")

    async def _deliver(self, message: Any) -> None:
        """The consumer's callback: each message is read once, here. A message the broker
        delivered before (to us or to an indexer that died or lost its broker before
        acknowledging it) is counted: indexing it again is harmless (external versions:
        OpenSearch answers 409 to a version it already has), the count says how often."""
        if message.redelivered:
            self.redelivered += 1
            metrics.indexer_redelivered.inc()
        await self._inbox.put(_Delivery.of(message))

    async def _work(self) -> None:
        while not self._stop.is_set():
            batch = await self._next_batch()
            if not batch:
                continue
            try:
                with tracing.tracer().start_as_current_span(
                    "index batch",
                    kind=SpanKind.CONSUMER,
                    # One link per message: the batch joins every write's trace.
                    links=tracing.links_from_headers([d.message.headers for d in batch]),
                    attributes={"messaging.batch.message_count": len(batch)},
                ):
                    await self._process(batch)
            except (AMQPError, ChannelInvalidStateError, ConnectionError) as exc:
                # The broker went away under this batch (its channel is closed): the
                # unacked messages are requeued by the broker and delivered again once
                # the robust connection is back; indexing twice is harmless (external
                # versions). Dropping the batch here keeps the indexer alive.
                log.warning(
                    "broker connection lost mid-batch (%d message(s) will be redelivered): %r",
                    len(batch),
                    exc,
                )

    async def _next_batch(self) -> list[_Delivery]:
        """Messages until they hold ``batch_size`` events or ``batch_wait_s`` has passed."""
        try:
            first = await asyncio.wait_for(self._inbox.get(), timeout=0.5)
        except TimeoutError:
            return []
        batch = [first]
        events = first.count
        deadline = time.monotonic() + self.settings.indexer.batch_wait_s
        while events < self.settings.indexer.batch_size:
            try:
                message = self._inbox.get_nowait()
            except asyncio.QueueEmpty:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    message = await asyncio.wait_for(self._inbox.get(), timeout=remaining)
                except TimeoutError:
                    break
            batch.append(message)
            events += message.count
        return batch

    async def _dead_letter(
        self, body: bytes, message_id: str | None, error: str, attempts: int
    ) -> None:
        """Publishes one dead letter (confirmed); the caller acks the original after."""
        dead = aio_pika.Message(
            body=body,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message_id,
            headers={"x-error": error[:1000], "x-attempts": attempts},
        )
        await self._channel.default_exchange.publish(dead, routing_key=self.settings.amqp.dlq)
        self.dead_lettered += 1
        log.warning("dead-lettered %s after %d attempt(s): %s", message_id, attempts, error)

    async def _process(self, deliveries: list[_Delivery]) -> None:
        """Indexes every event of the batch; a message is acked once all its events are
        indexed, superseded or dead-lettered (each dead event becomes its own dead letter)."""
        pending: list[tuple[_Unit, Event]] = []
        units: list[_Unit] = []
        for delivery in deliveries:
            message, raw_events = delivery.message, delivery.events
            if raw_events is None:
                await self._dead_letter(
                    message.body, message.message_id, f"invalid message: {delivery.error}", 1
                )
                await message.ack()
                continue
            unit = _Unit(message, len(raw_events))
            units.append(unit)
            for raw in raw_events:
                try:
                    pending.append((unit, parse_event(raw)))
                except InvalidEvent as exc:
                    await self._dead_letter(
                        orjson.dumps(raw), message.message_id, f"invalid event: {exc}", 1
                    )
                    unit.left -= 1
        attempt = 0
        tenants: set[str] = set()
        while pending:
            try:
                response = await self._bulk([event for _, event in pending])
            except (OSConnectionError, TransportError, TimeoutError, OSError) as exc:
                if self._stop.is_set():  # unacked: the broker redelivers them to the next one
                    log.warning(
                        "stopping with a failing bulk; %d message(s) left unacked",
                        len(deliveries),
                    )
                    return
                delay = backoff_s(self._wait, attempt=min(attempt + 1, 10))
                log.warning("bulk request failed, retrying in %.2fs: %r", delay, exc)
                await asyncio.sleep(delay)
                continue
            attempt += 1
            retry: list[tuple[_Unit, Event]] = []
            last_error = ""
            done: Counter[str] = Counter()
            now = datetime.now(UTC)
            for (unit, event), item in zip(pending, response["items"], strict=True):
                outcome, reason = classify_item(item)
                if outcome is Outcome.DONE:
                    self.indexed += 1
                    done[event.op] += 1
                    if reason == SUPERSEDED:  # this version or a newer one is there already
                        metrics.indexer_superseded.inc()
                    _observe_lag(event, now)
                    tenants.add(event.tenant_id)
                    unit.left -= 1
                elif outcome is Outcome.DEAD or attempt >= self.settings.indexer.max_attempts:
                    await self._dead_letter(
                        orjson.dumps(_event_body(event)), unit.message.message_id, reason, attempt
                    )
                    unit.left -= 1
                else:
                    retry.append((unit, event))
                    last_error = reason
            for op, count in done.items():
                metrics.indexer_events.labels(op).inc(count)
            pending = retry
            if pending:
                delay = backoff_s(self._wait, attempt=attempt)
                log.warning(
                    "%d item(s) failed (attempt %d), retrying in %.2fs: %s",
                    len(pending),
                    attempt,
                    delay,
                    last_error,
                )
                await asyncio.sleep(delay)
        for unit in units:
            assert unit.left == 0
            await unit.message.ack()
        await self._invalidate(tenants)

    async def _bulk(self, events: list[Event]) -> dict[str, Any]:
        assert self._opensearch is not None
        lines = bulk_lines(self.settings.opensearch.alias, events)
        # NDJSON by orjson: the client's own serializer is the indexer's main CPU cost.
        body = b"\n".join(orjson.dumps(line) for line in lines) + b"\n"
        response: dict[str, Any] = await self._opensearch.bulk(body=body)
        return response

    async def _invalidate(self, tenants: set[str]) -> None:
        """Searches cached between the write and its visibility would hide the change:
        drop them now, and again once OpenSearch has refreshed (the change is only
        searchable after the next refresh, and a search in between caches the old answer).
        """
        if not tenants:
            return
        await self._bump(tenants)
        refresh_s = self.settings.opensearch.refresh_interval_s
        # Once after the next refresh, once more in case that refresh ran late (load).
        delays_s = (refresh_s + 0.25, 2 * refresh_s + 1.0)
        task = asyncio.get_running_loop().create_task(self._bump_later(tenants, delays_s))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _bump_later(self, tenants: set[str], delays_s: tuple[float, ...]) -> None:
        waited_s = 0.0
        for delay_s in delays_s:
            await asyncio.sleep(delay_s - waited_s)
            waited_s = delay_s
            await self._bump(tenants)

    async def _bump(self, tenants: set[str]) -> None:
        assert self._redis is not None
        prefix = self.settings.redis.prefix
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for tenant in tenants:
                    pipe.incr(f"{prefix}gen:{tenant}")
                await pipe.execute()
        except Exception as exc:  # the cache TTL still bounds staleness
            log.warning("could not invalidate cached searches: %r", exc)


@dataclass
class _Delivery:
    """A delivered message, read once: its events, or why it cannot be read."""

    message: Any
    events: list[dict[str, Any]] | None
    error: str = ""

    @classmethod
    def of(cls, message: Any) -> _Delivery:
        try:
            return cls(message, parse_message(message.body))
        except InvalidEvent as exc:
            return cls(message, None, str(exc))

    @property
    def count(self) -> int:
        return len(self.events) if self.events else 1


class _Unit:
    """One delivered message and how many of its events are still unresolved."""

    def __init__(self, message: Any, events: int) -> None:
        self.message = message
        self.left = events


def _observe_lag(event: Event, now: datetime) -> None:
    """Write committed (``updated_at``, the moment of the 202) to indexed; searchable
    follows within one refresh interval."""
    if event.doc is None:
        return
    try:
        committed = datetime.fromisoformat(str(event.doc["updated_at"]))
    except (KeyError, ValueError):
        return
    metrics.indexer_lag.observe(max(0.0, (now - committed).total_seconds()))


def _event_body(event: Event) -> dict[str, Any]:
    body: dict[str, Any] = {
        "op": event.op,
        "tenant_id": event.tenant_id,
        "id": event.id,
        "version": event.version,
    }
    if event.doc is not None:
        body["doc"] = event.doc
    return body
