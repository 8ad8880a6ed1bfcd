"""Document writes and reads. A write commits the row, its outbox event and an audit
row in one transaction; the relay (``service.documents.outbox``) publishes the event.
With ``SERVICE_OUTBOX_ENABLED=false`` the event is published straight after the
commit, best effort: the naive design, kept so experiments can show what it loses.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from service import audit
from service.documents.schemas import DocumentIn, DocumentOut, DocumentPatch, WriteAccepted
from service.exceptions import NotFound
from service.runtime import Runtime
from service.tenants.schemas import Principal
from service.tracing import current_traceparent

log = logging.getLogger("service.documents")
Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

_COLUMNS = (
    "id, version, title, body, tags, status, subject_id, metadata, "
    "published_at, created_at, updated_at"
)


def index_event(tenant: str, row: asyncpg.Record | dict[str, Any]) -> dict[str, Any]:
    """The message the indexer turns into an OpenSearch index action."""
    return {
        "op": "index",
        "tenant_id": tenant,
        "id": str(row["id"]),
        "version": int(row["version"]),
        "doc": {
            "id": str(row["id"]),
            "tenant_id": tenant,
            "version": int(row["version"]),
            "title": row["title"],
            "body": row["body"],
            "tags": list(row["tags"]),
            "status": row["status"],
            "subject_id": row["subject_id"],
            "metadata": row["metadata"],
            "published_at": row["published_at"].isoformat(),
            "created_at": row["created_at"].isoformat(),
            "updated_at": row["updated_at"].isoformat(),
        },
    }


def delete_event(tenant: str, doc_id: uuid.UUID | str, version: int) -> dict[str, Any]:
    return {"op": "delete", "tenant_id": tenant, "id": str(doc_id), "version": int(version)}


def _to_out(row: asyncpg.Record) -> DocumentOut:
    return DocumentOut.model_validate(dict(row))


async def record_events(
    runtime: Runtime,
    conn: Conn,
    tenant: str,
    events: list[dict[str, Any]],
) -> None:
    """One outbox row (one message) per write request, however many documents it has."""
    if runtime.settings.outbox.enabled and events:
        await conn.execute(
            "INSERT INTO outbox (tenant_id, payload, traceparent) VALUES ($1, $2, $3)",
            tenant,
            {"events": events},
            current_traceparent(),  # the relay publishes in this request's trace
        )


async def _audit(
    conn: Conn,
    principal: Principal,
    action: str,
    doc_id: uuid.UUID | None,
    detail: dict[str, Any],
) -> None:
    await audit.write(  # in the write's transaction: exactly as durable as the write
        conn,
        action=action,
        tenant=principal.tenant,
        actor=principal.subject,
        document_id=doc_id,
        detail=detail,
    )


async def after_commit(runtime: Runtime, tenant: str, events: list[dict[str, Any]]) -> None:
    """Wake the relay (outbox) or publish now (naive); then invalidate the tenant's cache."""
    if runtime.settings.outbox.enabled:
        runtime.outbox_wakeup.set()
    elif events:
        try:
            await runtime.publisher.publish_many([{"events": events}])
        except Exception as exc:  # best effort by design: this is what the outbox fixes
            log.warning("naive publish lost %d events: %r", len(events), exc)
    try:
        await runtime.cache.invalidate_tenant(tenant)
    except Exception as exc:
        log.warning("could not invalidate the cache of %s: %r", tenant, exc)


async def create_documents(
    runtime: Runtime, principal: Principal, docs: list[DocumentIn]
) -> list[WriteAccepted]:
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for doc in docs:
        rows.append(
            {
                "id": uuid.uuid4(),
                "version": 1,
                "title": doc.title,
                "body": doc.body,
                "tags": doc.tags,
                "status": doc.status,
                "subject_id": doc.subject_id,
                "metadata": doc.metadata,
                "published_at": doc.published_at or now,
                "created_at": now,
                "updated_at": now,
            }
        )
    tenant = principal.tenant
    events = [index_event(tenant, r) for r in rows]
    async with runtime.pg_transaction() as conn:
        await conn.executemany(
            "INSERT INTO documents (tenant_id, id, version, title, body, tags, status, "
            "subject_id, metadata, published_at, created_at, updated_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            [
                (
                    tenant,
                    r["id"],
                    r["version"],
                    r["title"],
                    r["body"],
                    r["tags"],
                    r["status"],
                    r["subject_id"],
                    r["metadata"],
                    r["published_at"],
                    r["created_at"],
                    r["updated_at"],
                )
                for r in rows
            ],
        )
        await record_events(runtime, conn, tenant, events)
        await _audit(
            conn,
            principal,
            "create" if len(rows) == 1 else "bulk_create",
            rows[0]["id"] if len(rows) == 1 else None,
            {"count": len(rows)},
        )
    await after_commit(runtime, tenant, events)
    return [WriteAccepted(id=r["id"], version=r["version"]) for r in rows]


async def get_document(runtime: Runtime, principal: Principal, doc_id: uuid.UUID) -> DocumentOut:
    """Read from a replica when there is one (the primary otherwise, or when it is down)."""
    row = await runtime.pg.read(
        lambda conn: conn.fetchrow(
            f"SELECT {_COLUMNS} FROM documents WHERE tenant_id = $1 AND id = $2",
            principal.tenant,
            doc_id,
        )
    )
    if row is None:
        raise NotFound(f"document {doc_id} not found", tenant=principal.tenant)
    return _to_out(row)


_PATCHABLE = ("title", "body", "tags", "status", "subject_id", "metadata", "published_at")


async def update_document(
    runtime: Runtime,
    principal: Principal,
    doc_id: uuid.UUID,
    changes: DocumentIn | DocumentPatch,
) -> WriteAccepted:
    if isinstance(changes, DocumentIn):  # PUT replaces every field
        values = changes.model_dump()
        if values["published_at"] is None:
            values.pop("published_at")
    else:
        values = changes.model_dump(exclude_unset=True)
        if "published_at" in values and values["published_at"] is None:
            values.pop("published_at")
    names = [n for n in _PATCHABLE if n in values]  # a fixed whitelist: no caller text in SQL
    assignments = ", ".join(f"{n} = ${i}" for i, n in enumerate(names, start=3))
    sql = (
        f"UPDATE documents SET {assignments}{', ' if names else ''}"
        "version = version + 1, updated_at = now() "
        f"WHERE tenant_id = $1 AND id = $2 RETURNING {_COLUMNS}"
    )
    tenant = principal.tenant
    async with runtime.pg_transaction() as conn:
        row = await conn.fetchrow(sql, tenant, doc_id, *(values[n] for n in names))
        if row is None:
            raise NotFound(f"document {doc_id} not found", tenant=tenant)
        events = [index_event(tenant, row)]
        await record_events(runtime, conn, tenant, events)
        await _audit(
            conn, principal, "update", doc_id, {"fields": names, "version": row["version"]}
        )
    await after_commit(runtime, tenant, events)
    return WriteAccepted(id=doc_id, version=row["version"])


async def delete_document(
    runtime: Runtime, principal: Principal, doc_id: uuid.UUID
) -> WriteAccepted:
    tenant = principal.tenant
    async with runtime.pg_transaction() as conn:
        version = await conn.fetchval(
            "DELETE FROM documents WHERE tenant_id = $1 AND id = $2 RETURNING version",
            tenant,
            doc_id,
        )
        if version is None:
            raise NotFound(f"document {doc_id} not found", tenant=tenant)
        # The delete carries a newer version, so a late older index event cannot resurrect it.
        events = [delete_event(tenant, doc_id, version + 1)]
        await record_events(runtime, conn, tenant, events)
        await _audit(conn, principal, "delete", doc_id, {"version": version + 1})
    await after_commit(runtime, tenant, events)
    return WriteAccepted(id=doc_id, version=version + 1)
