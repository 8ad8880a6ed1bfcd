"""Redis: one client with a bounded connection pool; every key carries our prefix."""

from __future__ import annotations

import redis.asyncio as aioredis

from service.settings import RedisSettings


def create_client(settings: RedisSettings, *, longest_call_s: float = 0.0) -> aioredis.Redis:
    """``longest_call_s``: the longest deadline a caller gives one call (the rate
    limiter's for writes). Each call keeps its own deadline; the socket timeouts are only
    the backstop and must not cut a longer one short (they did: the limiter's writes
    failed at 100 ms whatever their own timeout said)."""
    backstop_s = max(settings.timeout_s, longest_call_s)
    # A blocking pool is the bulkhead: at most max_connections, and a call that finds them
    # all busy waits up to the Redis timeout for one instead of failing at once (the plain
    # pool raises MaxConnectionsError under a burst, which counted as a Redis failure and
    # opened the breaker while Redis itself was fine).
    pool = aioredis.BlockingConnectionPool.from_url(
        settings.url,
        max_connections=settings.max_connections,
        timeout=settings.timeout_s,
        socket_timeout=backstop_s,
        socket_connect_timeout=backstop_s,
        decode_responses=False,
    )
    return aioredis.Redis(connection_pool=pool)


async def ping(client: aioredis.Redis) -> None:
    await client.ping()
