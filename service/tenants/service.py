"""Tenant administration: API keys and the right to erasure."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

from service import audit
from service.documents.service import delete_event, record_events
from service.exceptions import NotFound
from service.runtime import Runtime
from service.tenants.auth import hash_api_key, new_api_key
from service.tenants.schemas import ApiKeyCreated, ApiKeyRotated, ErasureReport, Principal, Role

log = logging.getLogger("service.tenants")


def ensure_own_tenant(principal: Principal, tenant: str) -> None:
    # Another tenant's resources do not exist as far as the caller can tell.
    if tenant != principal.tenant:
        raise NotFound(f"tenant {tenant!r} not found", tenant=principal.tenant)


async def create_api_key(runtime: Runtime, principal: Principal, role: Role) -> ApiKeyCreated:
    key = new_api_key()
    key_id = uuid.uuid4()
    async with runtime.pool.acquire() as conn, conn.transaction():
        created_at = await conn.fetchval(
            "INSERT INTO api_keys (id, tenant_id, role, key_hash) VALUES ($1, $2, $3, $4) "
            "RETURNING created_at",
            key_id,
            principal.tenant,
            role.value,
            hash_api_key(key),
        )
        await audit.write(
            conn,
            action="api_key_created",
            tenant=principal.tenant,
            actor=principal.subject,
            detail={"key_id": str(key_id), "role": role.value},
        )
    return ApiKeyCreated(
        id=key_id, tenant=principal.tenant, role=role, key=key, created_at=created_at
    )


async def revoke_api_key(runtime: Runtime, principal: Principal, key_id: uuid.UUID) -> None:
    async with runtime.pool.acquire() as conn, conn.transaction():
        revoked = await conn.fetchval(
            "UPDATE api_keys SET revoked_at = now() WHERE tenant_id = $1 AND id = $2 "
            "AND revoked_at IS NULL RETURNING id",
            principal.tenant,
            key_id,
        )
        if revoked is None:
            raise NotFound(f"API key {key_id} not found", tenant=principal.tenant)
        await audit.write(
            conn,
            action="api_key_revoked",
            tenant=principal.tenant,
            actor=principal.subject,
            detail={"key_id": str(key_id)},
        )


async def rotate_api_key(
    runtime: Runtime, principal: Principal, key_id: uuid.UUID, overlap_s: int
) -> ApiKeyRotated:
    """A new key with the old one's role; the old key stays valid for ``overlap_s`` more
    seconds (never longer than it already was), so clients can switch without a gap."""
    key = new_api_key()
    new_id = uuid.uuid4()
    async with runtime.pool.acquire() as conn, conn.transaction():
        old = await conn.fetchrow(
            "UPDATE api_keys SET expires_at = LEAST(COALESCE(expires_at, 'infinity'), "
            "now() + make_interval(secs => $3)) WHERE tenant_id = $1 AND id = $2 "
            "AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now()) "
            "RETURNING role, expires_at",
            principal.tenant,
            key_id,
            float(overlap_s),
        )
        if old is None:
            raise NotFound(f"API key {key_id} not found", tenant=principal.tenant)
        created_at: datetime = await conn.fetchval(
            "INSERT INTO api_keys (id, tenant_id, role, key_hash) VALUES ($1, $2, $3, $4) "
            "RETURNING created_at",
            new_id,
            principal.tenant,
            old["role"],
            hash_api_key(key),
        )
        await audit.write(
            conn,
            action="api_key_rotated",
            tenant=principal.tenant,
            actor=principal.subject,
            detail={"key_id": str(key_id), "new_key_id": str(new_id), "overlap_s": overlap_s},
        )
    expires_at: datetime = old["expires_at"]
    return ApiKeyRotated(
        id=new_id,
        tenant=principal.tenant,
        role=Role(old["role"]),
        key=key,
        created_at=created_at,
        previous_id=key_id,
        previous_expires_at=expires_at,
    )


async def erase_subject(runtime: Runtime, principal: Principal, subject: str) -> ErasureReport:
    """Deletes the subject's documents from PostgreSQL, OpenSearch and every cache.

    Delete events (newer versions) also go through the outbox, so an index event
    still in flight cannot bring an erased document back into the search engine.
    """
    tenant = principal.tenant
    async with runtime.pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            "DELETE FROM documents WHERE tenant_id = $1 AND subject_id = $2 RETURNING id, version",
            tenant,
            subject,
        )
        events = [delete_event(tenant, r["id"], r["version"] + 1) for r in rows]
        await record_events(runtime, conn, tenant, events)
        await audit.write(  # the subject id itself never enters the append-only trail
            conn,
            action="erasure",
            tenant=tenant,
            actor=principal.subject,
            detail={"subject_sha256": audit.subject_digest(subject), "documents": len(rows)},
        )
    if runtime.settings.outbox.enabled:
        runtime.outbox_wakeup.set()
    elif events:
        try:
            await runtime.publisher.publish_many([{"events": events}])
        except Exception as exc:
            log.warning("naive publish of erasure events failed: %r", exc)
    removed = await _delete_from_engine(runtime, tenant, subject, events)
    generation = await runtime.cache.invalidate_tenant(tenant)
    return ErasureReport(
        tenant=tenant,
        subject=subject,
        postgres_deleted=len(rows),
        opensearch_deleted=removed,
        cache_generation=generation,
    )


async def _delete_from_engine(
    runtime: Runtime, tenant: str, subject: str, events: list[dict[str, Any]]
) -> int:
    """Deletes by id with the newer version (so late index events lose), then sweeps by
    query for anything PostgreSQL no longer knew about. Returns documents removed."""
    alias = runtime.settings.opensearch.alias
    removed = 0
    if events:
        lines: list[dict[str, Any]] = [
            {
                "delete": {
                    "_index": alias,
                    "_id": e["id"],
                    "routing": tenant,
                    "version": e["version"],
                    "version_type": "external",
                }
            }
            for e in events
        ]
        response = await runtime.opensearch.bulk(body=lines, params={"refresh": "true"})
        removed += sum(1 for item in response["items"] if item["delete"].get("result") == "deleted")
    swept = await runtime.opensearch.delete_by_query(
        index=alias,
        routing=tenant,
        body={
            "query": {
                "bool": {
                    "filter": [{"term": {"tenant_id": tenant}}, {"term": {"subject_id": subject}}]
                }
            }
        },
        params={"refresh": "true", "conflicts": "proceed"},
    )
    return removed + int(swept.get("deleted", 0))
