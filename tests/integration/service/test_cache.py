"""A repeated search is served from the cache; a write invalidates the tenant's entries."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from service_helpers import ServiceUnderTest, eventually, make_document, search_ids

from gameday.settings import StackSettings
from service.search.cache import SearchCache
from service.settings import CacheSettings


def test_a_second_identical_search_is_a_cache_hit(
    service_under_test: ServiceUnderTest, new_tenant: Callable[[], str]
) -> None:
    sut, tenant = service_under_test, new_tenant()
    with sut.client(tenant, role="admin") as client:
        doc_id = client.post("/v1/documents", json=make_document(title="Cached pangolin")).json()[
            "id"
        ]
        eventually(lambda: doc_id in search_ids(client, q="pangolin"))
        sut.wait_for_invalidations(tenant, writes=1)  # the indexer's last one included
        before = client.get("/v1/admin/cache").json()
        first = client.get("/v1/search", params={"q": "  Cached   PANGOLIN"}).json()
        second = client.get(
            "/v1/search", params={"q": "cached pangolin"}
        ).json()  # same, normalized
        after = client.get("/v1/admin/cache").json()
        assert first["source"] == "engine"
        assert second["source"] == "cache"
        assert second["hits"] == first["hits"]
        assert after["hits"] == before["hits"] + 1
        assert after["misses"] == before["misses"] + 1


def test_a_write_invalidates_the_tenants_cached_searches(
    service_under_test: ServiceUnderTest, new_tenant: Callable[[], str]
) -> None:
    sut, tenant = service_under_test, new_tenant()
    with sut.client(tenant) as client:
        first_id = client.post("/v1/documents", json=make_document(title="Wombat one")).json()["id"]
        eventually(lambda: first_id in search_ids(client, q="wombat"))
        sut.wait_for_invalidations(tenant, writes=1)  # only the write below invalidates now
        client.get("/v1/search", params={"q": "wombat"})
        assert client.get("/v1/search", params={"q": "wombat"}).json()["source"] == "cache"
        second_id = client.post("/v1/documents", json=make_document(title="Wombat two")).json()[
            "id"
        ]
        assert client.get("/v1/search", params={"q": "wombat"}).json()["source"] == "engine"
        eventually(lambda: {first_id, second_id} <= search_ids(client, q="wombat"))


def test_cache_entries_are_per_tenant(
    service_under_test: ServiceUnderTest, new_tenant: Callable[[], str]
) -> None:
    sut, tenant_a, tenant_b = service_under_test, new_tenant(), new_tenant()
    with sut.client(tenant_a) as a, sut.client(tenant_b) as b:
        doc_id = a.post("/v1/documents", json=make_document(title="Private armadillo")).json()["id"]
        eventually(lambda: doc_id in search_ids(a, q="armadillo"))
        sut.wait_for_invalidations(tenant_a, writes=1)
        a.get("/v1/search", params={"q": "armadillo"})
        assert a.get("/v1/search", params={"q": "armadillo"}).json()["source"] == "cache"
        answer = b.get("/v1/search", params={"q": "armadillo"}).json()
        assert answer["source"] == "engine" and answer["hits"] == []


class CountingRedis(aioredis.Redis):
    """The real client, counting its GETs."""

    gets = 0

    async def get(self, name: Any) -> Any:
        self.gets += 1
        return await super().get(name)


def test_concurrent_searches_share_a_generation_read_but_never_one_older_than_a_local_write(
    stack: StackSettings,
) -> None:
    async def run() -> None:
        client = CountingRedis(host="127.0.0.1", port=stack.redis_port)
        cache = SearchCache(CacheSettings(), client, f"cachetest{uuid.uuid4().hex[:8]}:")
        try:
            assert await asyncio.gather(*(cache.generation("t") for _ in range(10))) == [0] * 10
            assert client.gets == 1  # ten searches arriving together: one round trip
            assert await cache.generation("t") == 0
            assert client.gets == 2  # none in flight: a read of its own
            in_flight = asyncio.ensure_future(cache.generation("t"))
            await asyncio.sleep(0)  # let it send its GET
            assert client.gets == 3
            await cache.invalidate_tenant("t")
            # a search after this worker's write does not share the read sent before it
            assert await cache.generation("t") == 1
            assert client.gets == 4
            assert await in_flight in (0, 1)
        finally:
            await client.aclose()

    asyncio.run(run())
