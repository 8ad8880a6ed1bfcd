"""Redis: one client with a bounded connection pool; every key carries our prefix."""

from __future__ import annotations

import redis.asyncio as aioredis

from service.settings import RedisSettings


def create_client(settings: RedisSettings) -> aioredis.Redis:
    return aioredis.Redis.from_url(
        settings.url,
        max_connections=settings.max_connections,
        socket_timeout=settings.timeout_s,
        socket_connect_timeout=settings.timeout_s,
        decode_responses=False,
    )


async def ping(client: aioredis.Redis) -> None:
    await client.ping()
