"""Search and autocomplete: cache first, then OpenSearch routed and filtered by tenant."""

from __future__ import annotations

import logging
import time
from typing import Any

from service.runtime import Runtime
from service.search.query import build_autocomplete, build_search, normalized_search
from service.search.schemas import (
    AutocompleteParams,
    AutocompleteResponse,
    Hit,
    SearchParams,
    SearchResponse,
)
from service.tenants.schemas import Principal

log = logging.getLogger("service.search")


def _to_response(params: SearchParams, raw: dict[str, Any], took_ms: int) -> SearchResponse:
    hits = [
        Hit(
            id=str(h["_id"]),
            score=h.get("_score"),
            source=h.get("_source", {}),
            highlight=h.get("highlight"),
        )
        for h in raw["hits"]["hits"]
    ]
    total = raw["hits"]["total"]
    return SearchResponse(
        hits=hits,
        total=int(total["value"] if isinstance(total, dict) else total),
        took_ms=took_ms,
        page=params.page,
        size=params.size,
        source="engine",
    )


async def search(runtime: Runtime, principal: Principal, params: SearchParams) -> SearchResponse:
    tenant = principal.tenant
    cache = runtime.cache
    key: str | None = None
    started = time.perf_counter()
    if cache.enabled:
        try:
            generation = await cache.generation(tenant)
            key = cache.key(
                tenant,
                generation,
                normalized_search(params),
                page=params.page,
                size=params.size,
                fields=params.field_list,
            )
            cached = await cache.get(key)
            if cached is not None:
                response = SearchResponse.model_validate(cached)
                response.source = "cache"
                response.took_ms = int((time.perf_counter() - started) * 1000)
                return response
        except Exception as exc:  # a cache outage degrades to the engine, never to an error
            log.warning("cache read failed: %r", exc)
            key = None
    raw = await runtime.opensearch.search(
        index=runtime.settings.opensearch.alias,
        body=build_search(tenant, params),
        routing=tenant,
    )
    response = _to_response(params, raw, int((time.perf_counter() - started) * 1000))
    if key is not None:
        try:
            await cache.put(key, response.model_dump(mode="json"))
        except Exception as exc:
            log.warning("cache write failed: %r", exc)
    return response


async def autocomplete(
    runtime: Runtime, principal: Principal, params: AutocompleteParams
) -> AutocompleteResponse:
    raw = await runtime.opensearch.search(
        index=runtime.settings.opensearch.alias,
        body=build_autocomplete(principal.tenant, params),
        routing=principal.tenant,
    )
    seen: list[str] = []
    for hit in raw["hits"]["hits"]:
        title = hit.get("_source", {}).get("title")
        if isinstance(title, str) and title not in seen:
            seen.append(title)
    return AutocompleteResponse(prefix=params.prefix, suggestions=seen[: params.size])
