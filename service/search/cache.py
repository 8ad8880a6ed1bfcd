"""Two-tier cache of search results: L1 in-process (bounded LRU with TTL), L2 Redis.

Keys embed the tenant's generation counter (a Redis integer): any write bumps it,
so every cached search of that tenant becomes unreachable at once, in every worker.

    key = cache.key(tenant, generation, normalized_query, page=1, size=10, fields=())
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson
import redis.asyncio as aioredis
from cachetools import TTLCache

from service.settings import CacheSettings


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


class SearchCache:
    def __init__(self, settings: CacheSettings, redis: aioredis.Redis, prefix: str) -> None:
        self._settings = settings
        self._redis = redis
        self._prefix = prefix
        self._l1: TTLCache[str, bytes] = TTLCache(
            maxsize=settings.l1_size, ttl=min(settings.l1_ttl_s, settings.ttl_s)
        )
        self.stats = CacheStats()

    @property
    def enabled(self) -> bool:
        return self._settings.enabled

    def _generation_key(self, tenant: str) -> str:
        return f"{self._prefix}gen:{tenant}"

    async def generation(self, tenant: str) -> int:
        raw = await self._redis.get(self._generation_key(tenant))
        return int(raw) if raw is not None else 0

    async def invalidate_tenant(self, tenant: str) -> int:
        """Bumps the tenant's generation; returns the new one."""
        self.stats.invalidations += 1
        return int(await self._redis.incr(self._generation_key(tenant)))

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
        raw: bytes | None = self._l1.get(key)
        if raw is not None:
            self.stats.l1_hits += 1
            return dict(orjson.loads(raw))
        raw = await self._redis.get(key)  # type: ignore[assignment]  # bytes: decode_responses off
        if raw is not None:
            self.stats.l2_hits += 1
            self._l1[key] = raw
            return dict(orjson.loads(raw))
        self.stats.misses += 1
        return None

    async def put(self, key: str, value: dict[str, Any]) -> None:
        raw = orjson.dumps(value)
        self._l1[key] = raw
        await self._redis.set(key, raw, px=int(self._settings.ttl_s * 1000))
