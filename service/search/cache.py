"""Two-tier cache of search results: L1 in-process (bounded LRU with TTL), L2 Redis.

Keys embed the tenant's generation counter (a Redis integer): any write bumps it,
so every cached search of that tenant becomes unreachable at once, in every worker.

Besides, the last good result of each query is kept under a key without the generation
for ``SERVICE_RESILIENCE_STALE_MAX_AGE_S``: the fallback when OpenSearch fails.

Redis is reached through its guard (breaker, ``SERVICE_REDIS_TIMEOUT_S``); when it fails
the cache works on L1 alone (and the last generation this worker saw): never an error.

    key = cache.key(tenant, generation, normalized_query, page=1, size=10, fields=())
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
import redis.asyncio as aioredis
from cachetools import TTLCache

from service import metrics
from service.deps.guards import redis_failure
from service.resilience import BreakerOpen, Guard
from service.settings import CacheSettings

log = logging.getLogger("service.cache")
T = TypeVar("T")


@functools.cache
def _lookups(tier: str, result: str) -> Any:
    """The labelled child, looked up once (``labels()`` locks and checks every call)."""
    return metrics.cache_lookups.labels(tier, result)


class _CountingTTLCache(TTLCache[str, bytes]):
    """Counts size evictions (not expiries) per tier."""

    def __init__(self, tier: str, maxsize: int, ttl: float) -> None:
        super().__init__(maxsize=maxsize, ttl=ttl)
        self._tier = tier

    def popitem(self) -> Any:
        item = super().popitem()
        metrics.cache_evictions.labels(self._tier).inc()
        return item


@dataclass
class CacheStats:
    l1_hits: int = 0
    l2_hits: int = 0
    misses: int = 0
    invalidations: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "l1_hits": self.l1_hits,
            "l2_hits": self.l2_hits,
            "hits": self.l1_hits + self.l2_hits,
            "misses": self.misses,
            "invalidations": self.invalidations,
        }


def make_key(
    prefix: str,
    tenant: str,
    generation: int,
    normalized_query: dict[str, Any],
    *,
    page: int,
    size: int,
    fields: tuple[str, ...],
) -> str:
    digest = hashlib.sha256(orjson.dumps(normalized_query, option=orjson.OPT_SORT_KEYS))
    return (
        f"{prefix}search:{tenant}:g{generation}:{digest.hexdigest()[:32]}:"
        f"p{page}:s{size}:f{','.join(fields)}"
    )


def stale_key_of(key: str) -> str:
    """The generation-free key of the same query: ``...:g7:...`` -> ``...:stale:...``."""
    head, _generation, *tail = key.rsplit(":", 5)  # the last 5 parts never hold a colon
    return ":".join([head, "stale", *tail])


class SearchCache:
    def __init__(
        self,
        settings: CacheSettings,
        redis: aioredis.Redis,
        prefix: str,
        *,
        guard: Guard | None = None,
        redis_timeout_s: float = 0.1,
        stale_max_age_s: float = 300.0,
    ) -> None:
        self._settings = settings
        self._redis = redis
        self._prefix = prefix
        self._guard = guard
        self._redis_timeout_s = redis_timeout_s
        self.stale_max_age_s = stale_max_age_s
        self._l1 = _CountingTTLCache(
            "l1", maxsize=settings.l1_size, ttl=min(settings.l1_ttl_s, settings.ttl_s)
        )
        self._stale = _CountingTTLCache(
            "stale", maxsize=settings.l1_size, ttl=max(stale_max_age_s, 0.001)
        )
        self._generations: dict[str, int] = {}
        # tenant -> (its local invalidations when the read was sent, the read)
        self._generation_reads: dict[str, tuple[int, asyncio.Future[int | None]]] = {}
        self._invalidations: dict[str, int] = {}
        self.stats = CacheStats()

    async def _redis_call(self, fn: Callable[[], Awaitable[T]]) -> T:
        if self._guard is None:
            return await fn()
        return await self._guard.call(fn, timeout_s=self._redis_timeout_s, is_failure=redis_failure)

    async def _get_bytes(self, key: str) -> bytes | None:
        raw = await self._redis.get(key)
        return raw.encode() if isinstance(raw, str) else raw  # bytes: decode_responses off

    async def _redis_or_none(self, fn: Callable[[], Awaitable[T]], what: str) -> T | None:
        """Redis failing (or its breaker open) is a miss, never an error."""
        try:
            return await self._redis_call(fn)
        except BreakerOpen:
            return None
        except Exception as exc:
            if not redis_failure(exc):
                raise
            log.warning("redis %s failed, L1 only: %r", what, exc)
            return None

    @property
    def enabled(self) -> bool:
        return self._settings.enabled

    def _generation_key(self, tenant: str) -> str:
        return f"{self._prefix}gen:{tenant}"

    async def generation(self, tenant: str) -> int:
        """The tenant's generation from Redis; the last one seen here when Redis fails.

        Searches of a tenant that arrive while a read of its generation is on its way
        share that read (one round trip for a burst of searches instead of one each),
        unless this worker invalidated the tenant since the read was sent. A write
        acknowledged by another worker during that round trip may therefore be seen one
        round trip later: as if the search had arrived that much earlier."""
        epoch = self._invalidations.get(tenant, 0)
        pending = self._generation_reads.get(tenant)
        if pending is not None and pending[0] == epoch:
            shared = await asyncio.shield(pending[1])
            if shared is not None:
                return shared
            # the read failed or was cancelled: this search reads for itself
        done: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        entry = (epoch, done)
        self._generation_reads[tenant] = entry
        generation: int | None = None
        try:
            generation = await self._read_generation(tenant)
            return generation
        finally:
            if self._generation_reads.get(tenant) is entry:
                del self._generation_reads[tenant]
            done.set_result(generation)

    async def _read_generation(self, tenant: str) -> int:
        try:
            raw = await self._redis_call(lambda: self._redis.get(self._generation_key(tenant)))
        except BreakerOpen:
            return self._generations.get(tenant, 0)
        except Exception as exc:
            if not redis_failure(exc):
                raise
            log.warning("redis generation read failed, L1 only: %r", exc)
            return self._generations.get(tenant, 0)
        generation = int(raw) if raw is not None else 0
        self._generations[tenant] = generation
        return generation

    async def invalidate_tenant(self, tenant: str) -> int:
        """Bumps the tenant's generation; returns the new one. Raises when Redis fails
        (the caller decides); this worker's view moves on regardless."""
        self.stats.invalidations += 1
        self._invalidations[tenant] = self._invalidations.get(tenant, 0) + 1
        self._generations[tenant] = self._generations.get(tenant, 0) + 1
        generation = int(
            await self._redis_call(lambda: self._redis.incr(self._generation_key(tenant)))
        )
        self._generations[tenant] = generation
        return generation

    def key(
        self,
        tenant: str,
        generation: int,
        normalized_query: dict[str, Any],
        *,
        page: int,
        size: int,
        fields: tuple[str, ...],
    ) -> str:
        return make_key(
            self._prefix, tenant, generation, normalized_query, page=page, size=size, fields=fields
        )

    async def get(self, key: str) -> dict[str, Any] | None:
        raw = await self.get_raw(key)
        return None if raw is None else dict(orjson.loads(raw))

    async def get_raw(self, key: str) -> bytes | None:
        """The stored JSON, as :meth:`put` stored it (L1, then Redis)."""
        raw: bytes | None = self._l1.get(key)
        if raw is not None:
            self.stats.l1_hits += 1
            _lookups("l1", "hit").inc()
            return raw
        _lookups("l1", "miss").inc()
        raw = await self._redis_or_none(lambda: self._get_bytes(key), "get")
        if raw is not None:
            self.stats.l2_hits += 1
            _lookups("l2", "hit").inc()
            self._l1[key] = raw
            return raw
        _lookups("l2", "miss").inc()
        self.stats.misses += 1
        return None

    async def put(self, key: str, value: dict[str, Any], *, raw: bytes | None = None) -> None:
        """Fresh entry (TTL) and last good result (stale max age); Redis failing is fine.
        ``raw``: ``value`` as JSON already (the caller's response body), not dumped again."""
        raw = raw if raw is not None else orjson.dumps(value)
        stale_key = stale_key_of(key)
        # orjson.dumps({"stored_at": ..., "value": value}), without dumping value again
        stale_raw = b'{"stored_at":%b,"value":%b}' % (orjson.dumps(time.time()), raw)
        self._l1[key] = raw
        self._stale[stale_key] = stale_raw

        async def write() -> None:
            pipe = self._redis.pipeline(transaction=False)
            pipe.set(key, raw, px=int(self._settings.ttl_s * 1000))
            if self.stale_max_age_s > 0:
                pipe.set(stale_key, stale_raw, px=int(self.stale_max_age_s * 1000))
            await pipe.execute()

        await self._redis_or_none(write, "put")

    async def get_stale(self, key: str) -> tuple[dict[str, Any], float] | None:
        """The last good result for the query of ``key`` and its age, if young enough."""
        stale_key = stale_key_of(key)
        raw: bytes | None = self._stale.get(stale_key)
        tier = "stale_l1"
        if raw is None:
            raw = await self._redis_or_none(lambda: self._get_bytes(stale_key), "stale get")
            tier = "stale_l2"
        if raw is None:
            metrics.cache_lookups.labels("stale", "miss").inc()
            return None
        entry = orjson.loads(raw)
        age_s = max(0.0, time.time() - float(entry["stored_at"]))
        if age_s > self.stale_max_age_s:
            metrics.cache_lookups.labels("stale", "miss").inc()
            return None
        metrics.cache_lookups.labels(tier, "hit").inc()
        return dict(entry["value"]), age_s
