"""Redis: one client with a bounded connection pool; every key carries our prefix.

With ``SERVICE_REDIS_SENTINELS`` the client finds the primary through Sentinel: each new
connection asks the Sentinels (in turn, the last one that answered first) for the
primary's address, and a connection to a primary that has become a replica is dropped
(READONLY) so the next one asks again. The cache and the rate limiter share this client,
so both follow a failover without a restart.

    client = create_client(settings.redis)
    task = asyncio.create_task(watch_primary(client, on_switch=guard.breaker.reset))

``watch_primary`` asks the Sentinels for the primary every ``WATCH_INTERVAL_S``: when it
changes, the idle connections to the old one are closed and ``on_switch`` runs (the
service resets its Redis breaker, as it does for a promoted PostgreSQL replica: the old
primary's failures say nothing about the new one, and an open breaker would otherwise
keep every call off the new primary for its whole open period).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
from redis.backoff import NoBackoff

from service.settings import RedisSettings

WATCH_INTERVAL_S = 0.5

log = logging.getLogger(__name__)


class BlockingSentinelPool(SentinelConnectionPool, aioredis.BlockingConnectionPool):
    """redis-py's Sentinel pool with the blocking pool's bounded wait for a free
    connection (its own pool raises at once when all are busy), and which closes the
    Sentinel clients with itself."""

    async def aclose(self) -> None:
        try:
            await super().aclose()
        finally:
            await self.sentinel_manager.aclose()


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
    options: dict[str, Any] = {
        "max_connections": settings.max_connections,
        "timeout": settings.timeout_s,
        "socket_timeout": backstop_s,
        "socket_connect_timeout": backstop_s,
        "decode_responses": False,
        # A pooled connection the server closed while it sat idle passes the pool's
        # check when the event loop has not yet read the close; the command then fails
        # at once. One immediate retry on a new connection, for connection errors only
        # (a timeout has spent the caller's deadline already). redis-py's asyncio
        # client retries nothing by default.
        "retry": Retry(NoBackoff(), 1, supported_errors=(redis.exceptions.ConnectionError,)),
    }
    sentinels = settings.sentinel_addresses
    if not sentinels:
        pool = aioredis.BlockingConnectionPool.from_url(settings.url, **options)
        return aioredis.Redis(connection_pool=pool)
    # Asking a Sentinel is one more round trip before a new connection, bounded like
    # any other Redis call; a Sentinel that does not answer in time is skipped.
    sentinel = Sentinel(  # type: ignore[no-untyped-call]  # redis-py leaves it unannotated
        sentinels,
        sentinel_kwargs={"socket_timeout": backstop_s, "socket_connect_timeout": backstop_s},
    )
    db = aioredis.connection.parse_url(settings.url).get("db", 0)
    client: aioredis.Redis = sentinel.master_for(
        settings.sentinel_master, connection_pool_class=BlockingSentinelPool, db=db, **options
    )
    return client


async def ping(client: aioredis.Redis) -> None:
    await client.ping()


async def watch_primary(
    client: aioredis.Redis,
    *,
    on_switch: Callable[[], None],
    interval_s: float = WATCH_INTERVAL_S,
) -> None:
    """Runs until cancelled; returns at once for a client without Sentinels."""
    pool = client.connection_pool
    if not isinstance(pool, BlockingSentinelPool):
        return
    last: tuple[str, int] | None = None
    while True:
        try:
            # also closes the pool's idle connections when the address changed
            now: tuple[str, int] | None = await pool.get_master_address()  # type: ignore[no-untyped-call]
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            now = None  # no Sentinel answers, or none names a primary (mid-failover)
        if now is not None:
            if last is not None and now != last:
                log.warning("redis primary switched from %s:%s to %s:%s", *last, *now)
                on_switch()
            last = now
        await asyncio.sleep(interval_s)
