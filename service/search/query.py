"""Pure builders of OpenSearch request bodies: the tenant filter is never optional."""

from __future__ import annotations

import re
from typing import Any

from service.search.schemas import SOURCE_FIELDS, AutocompleteParams, SearchParams

_SPACES = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    return _SPACES.sub(" ", text).strip().lower()


def normalized_search(params: SearchParams) -> dict[str, Any]:
    """What identifies a search for the cache (page, size and fields go in the key apart)."""
    return {
        "q": normalize_text(params.q),
        "tags": params.tags,
        "status": params.status,
        "from": params.from_date.isoformat() if params.from_date else None,
        "to": params.to_date.isoformat() if params.to_date else None,
        "highlight": params.highlight,
    }


def tenant_filters(tenant: str, params: SearchParams) -> list[dict[str, Any]]:
    filters: list[dict[str, Any]] = [{"term": {"tenant_id": tenant}}]
    if params.tags:
        filters.append({"terms": {"tags": params.tags}})
    if params.status:
        filters.append({"term": {"status": params.status}})
    if params.from_date or params.to_date:
        bounds: dict[str, str] = {}
        if params.from_date:
            bounds["gte"] = params.from_date.isoformat()
        if params.to_date:
            bounds["lte"] = params.to_date.isoformat()
        filters.append({"range": {"published_at": bounds}})
    return filters


def build_search(tenant: str, params: SearchParams) -> dict[str, Any]:
    text = normalize_text(params.q)
    must: list[dict[str, Any]]
    if text:
        must = [
            {
                "multi_match": {
                    "query": text,
                    "fields": ["title^3", "body"],
                    "type": "best_fields",
                    "operator": "or",
                }
            }
        ]
    else:
        must = [{"match_all": {}}]
    body: dict[str, Any] = {
        "query": {"bool": {"must": must, "filter": tenant_filters(tenant, params)}},
        "from": (params.page - 1) * params.size,
        "size": params.size,
        "track_total_hits": True,
        "_source": list(params.field_list or SOURCE_FIELDS),
    }
    if not text:
        body["sort"] = [{"published_at": "desc"}, {"id": "asc"}]
    if params.highlight and text:
        body["highlight"] = {
            "fields": {
                "title": {"number_of_fragments": 0},
                "body": {"fragment_size": 150, "number_of_fragments": 3},
            },
            "require_field_match": True,
        }
    return body


def build_autocomplete(tenant: str, params: AutocompleteParams) -> dict[str, Any]:
    return {
        "size": params.size,
        "_source": ["title"],
        "query": {
            "bool": {
                "must": [
                    {
                        "multi_match": {
                            "query": params.prefix,
                            "type": "bool_prefix",
                            "fields": [
                                "title.suggest",
                                "title.suggest._2gram",
                                "title.suggest._3gram",
                            ],
                        }
                    }
                ],
                "filter": [{"term": {"tenant_id": tenant}}],
            }
        },
    }
