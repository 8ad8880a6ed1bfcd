"""OpenSearch: the async client and the index template, versioned index and alias.

Every query goes to the alias (``documents``); the index behind it is
``documents-v1`` so it can be rebuilt as ``-v2`` and the alias swapped.
"""

from __future__ import annotations

from typing import Any

from opensearchpy import AsyncOpenSearch, AsyncTransport
from opensearchpy.exceptions import RequestError

from service import tracing
from service.settings import OpenSearchSettings


def create_client(settings: OpenSearchSettings, *, max_retries: int = 1) -> AsyncOpenSearch:
    """The service passes ``max_retries=0``: its guard retries (with a budget), not the client."""
    return AsyncOpenSearch(
        hosts=settings.host_list,
        timeout=settings.timeout_s,
        maxsize=settings.max_connections,
        max_retries=max_retries,
        retry_on_timeout=False,
        http_compress=False,
        transport_class=tracing.TracedTransport if tracing.enabled() else AsyncTransport,
    )


def index_template(settings: OpenSearchSettings) -> dict[str, Any]:
    return {
        "index_patterns": [f"{settings.alias}-v*"],
        "template": {
            "settings": {
                "number_of_shards": settings.shards,
                "number_of_replicas": settings.replicas,
                "refresh_interval": settings.refresh_interval,
                "analysis": {
                    "analyzer": {
                        "text_en": {
                            "type": "custom",
                            "tokenizer": "standard",
                            "filter": ["lowercase", "asciifolding"],
                        }
                    }
                },
            },
            "mappings": {
                "dynamic": "strict",
                "_routing": {"required": True},
                "properties": {
                    "id": {"type": "keyword"},
                    "tenant_id": {"type": "keyword"},
                    "version": {"type": "long"},
                    "title": {
                        "type": "text",
                        "analyzer": "text_en",
                        "fields": {"suggest": {"type": "search_as_you_type"}},
                    },
                    "body": {"type": "text", "analyzer": "text_en"},
                    "tags": {"type": "keyword"},
                    "status": {"type": "keyword"},
                    "subject_id": {"type": "keyword"},
                    "metadata": {"type": "object", "enabled": False},
                    "published_at": {"type": "date"},
                    "created_at": {"type": "date"},
                    "updated_at": {"type": "date"},
                },
            },
        },
    }


async def ensure_index(client: AsyncOpenSearch, settings: OpenSearchSettings) -> None:
    """Idempotent: template, then ``<alias>-v1`` with the alias, if the alias is missing."""
    await client.indices.put_index_template(
        name=f"{settings.alias}-template", body=index_template(settings)
    )
    if await client.indices.exists_alias(name=settings.alias):
        return
    try:
        await client.indices.create(index=settings.index_v1, body={"aliases": {settings.alias: {}}})
    except RequestError as exc:
        if exc.error != "resource_already_exists_exception":
            raise


async def ping(client: AsyncOpenSearch) -> None:
    await client.cluster.health()
