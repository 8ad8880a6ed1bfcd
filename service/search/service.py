"""Search and autocomplete: cache first, then OpenSearch routed and filtered by tenant.

OpenSearch is called through its guard: breaker, ``SERVICE_OPENSEARCH_SEARCH_TIMEOUT_S``
for the whole call (retries of transient failures included). When it fails, a search
answers the last good result of the same query (``degraded: "stale-cache"``), or 503.

A search answers the JSON body itself (:class:`SearchAnswer`), serialized once: a cache
hit is the stored JSON with ``source`` and ``took_ms`` replaced (orjson, no model built:
the cache only ever holds what this module stored, a dumped SearchResponse); an engine
answer is validated into a SearchResponse once and dumped once, for the cache and the
client alike.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import orjson

from service import metrics
from service.deps.guards import opensearch_transient
from service.exceptions import DependencyUnavailable
from service.resilience import BreakerOpen
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


@dataclass(frozen=True)
class SearchAnswer:
    """A search's response body (a :class:`SearchResponse` as JSON) and, when it is a
    fallback, why (the ``X-Degraded`` header)."""

    body: bytes
    degraded: str | None = None


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


async def _engine_search(runtime: Runtime, body: dict[str, Any], tenant: str) -> dict[str, Any]:
    timeout_s = runtime.settings.opensearch.search_timeout_s

    async def call() -> dict[str, Any]:
        raw: dict[str, Any] = await runtime.opensearch.search(
            index=runtime.settings.opensearch.alias, body=body, routing=tenant
        )
        return raw

    return await runtime.guards["opensearch"].call(
        call, timeout_s=timeout_s, deadline_s=timeout_s, is_transient=opensearch_transient
    )


def _unavailable(runtime: Runtime, exc: BaseException, tenant: str) -> DependencyUnavailable:
    retry_after_s = exc.retry_after_s if isinstance(exc, BreakerOpen) else 1.0
    return DependencyUnavailable(
        f"search is unavailable ({type(exc).__name__}) and no cached result is recent enough; "
        "retry later",
        dependency="opensearch",
        tenant=tenant,
        retry_after_s=retry_after_s,
    )


async def search(runtime: Runtime, principal: Principal, params: SearchParams) -> SearchAnswer:
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
            cached = await cache.get_raw(key)
            if cached is not None:
                doc = orjson.loads(cached)
                doc["source"] = "cache"
                doc["took_ms"] = int((time.perf_counter() - started) * 1000)
                return SearchAnswer(orjson.dumps(doc))
        except Exception as exc:  # a cache outage degrades to the engine, never to an error
            log.warning("cache read failed: %r", exc)
            key = None
    try:
        raw = await _engine_search(runtime, build_search(tenant, params), tenant)
    except Exception as exc:
        if not (isinstance(exc, BreakerOpen) or opensearch_transient(exc)):
            raise
        stale = await cache.get_stale(key) if key is not None else None
        if stale is None:
            raise _unavailable(runtime, exc, tenant) from exc
        value, age_s = stale
        response = SearchResponse.model_validate(value)
        response.source = "cache"
        response.degraded = "stale-cache"
        response.stale_age_s = round(age_s, 3)
        response.took_ms = int((time.perf_counter() - started) * 1000)
        metrics.cache_stale_serves.inc()
        metrics.degraded_responses.labels("stale-cache").inc()
        log.warning(
            "search degraded to the stale cache: %s", type(exc).__name__,
            extra={"event": "degraded", "reason": "stale-cache", "age_s": round(age_s, 3)},
        )  # fmt: skip
        return SearchAnswer(response.model_dump_json().encode(), degraded=response.degraded)
    response = _to_response(params, raw, int((time.perf_counter() - started) * 1000))
    doc = response.model_dump(mode="json")
    body = orjson.dumps(doc)
    if key is not None:
        try:
            await cache.put(key, doc, raw=body)
        except Exception as exc:
            log.warning("cache write failed: %r", exc)
    return SearchAnswer(body)


async def autocomplete(
    runtime: Runtime, principal: Principal, params: AutocompleteParams
) -> AutocompleteResponse:
    try:
        raw = await _engine_search(
            runtime, build_autocomplete(principal.tenant, params), principal.tenant
        )
    except Exception as exc:
        if not (isinstance(exc, BreakerOpen) or opensearch_transient(exc)):
            raise
        raise _unavailable(runtime, exc, principal.tenant) from exc
    seen: list[str] = []
    for hit in raw["hits"]["hits"]:
        title = hit.get("_source", {}).get("title")
        if isinstance(title, str) and title not in seen:
            seen.append(title)
    return AutocompleteResponse(prefix=params.prefix, suggestions=seen[: params.size])
