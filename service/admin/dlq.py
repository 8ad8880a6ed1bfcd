"""Browsing and replaying the dead-letter queue, one tenant at a time.

Messages are fetched unacknowledged; those not replayed go back to the queue when
the channel closes, so browsing never loses a dead letter.
"""

from __future__ import annotations

from typing import Any

import aio_pika
import orjson

from service.runtime import Runtime

MAX_SCAN = 10_000


def _payload(body: bytes) -> dict[str, Any]:
    """A dead letter is one event; an envelope of a whole write also names one tenant."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return {"raw": body[:512].decode("utf-8", "replace")}
    if not isinstance(data, dict):
        return {}
    events = data.get("events")
    if isinstance(events, list) and events and isinstance(events[0], dict):
        return {**events[0], "events": len(events)}
    return data


def _describe(message: Any) -> dict[str, Any]:
    payload = _payload(message.body)
    headers = dict(message.headers or {})
    return {
        "message_id": message.message_id,
        "tenant_id": payload.get("tenant_id"),
        "id": payload.get("id"),
        "version": payload.get("version"),
        "op": payload.get("op"),
        "events": payload.get("events", 1),
        "error": str(headers.get("x-error", "")),
        "attempts": int(headers.get("x-attempts", 0) or 0),
    }


async def _scan(runtime: Runtime, channel: Any, tenant: str, limit: int) -> tuple[list[Any], int]:
    queue = await channel.declare_queue(runtime.settings.amqp.dlq, durable=True)
    depth = int(queue.declaration_result.message_count)
    mine: list[Any] = []
    for _ in range(min(depth, MAX_SCAN)):
        message = await queue.get(no_ack=False, fail=False)
        if message is None:
            break
        if _payload(message.body).get("tenant_id") == tenant:
            mine.append(message)
            if len(mine) >= limit:
                break
    return mine, depth


async def list_dead_letters(runtime: Runtime, tenant: str, *, limit: int) -> dict[str, Any]:
    channel = await runtime.amqp.channel()
    try:
        mine, depth = await _scan(runtime, channel, tenant, limit)
        return {"depth": depth, "count": len(mine), "messages": [_describe(m) for m in mine]}
    finally:
        await channel.close()  # every fetched message returns to the queue


async def replay_dead_letters(runtime: Runtime, tenant: str, *, limit: int) -> dict[str, Any]:
    channel = await runtime.amqp.channel(publisher_confirms=True)
    try:
        mine, _ = await _scan(runtime, channel, tenant, limit)
        exchange = await channel.get_exchange(runtime.settings.amqp.exchange)
        replayed = 0
        for message in mine:
            fresh = aio_pika.Message(
                body=message.body,
                content_type="application/json",
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=message.message_id,
                headers={"x-replayed": True},
            )
            await exchange.publish(fresh, routing_key=runtime.settings.amqp.queue)  # confirmed
            await message.ack()
            replayed += 1
        return {"replayed": replayed}
    finally:
        await channel.close()
