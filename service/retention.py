"""Retention: documents created longer ago than their tenant's retention period are
deleted from PostgreSQL, OpenSearch and the cache, with the counts in the audit log.

    task = asyncio.create_task(run_forever(runtime))   # the lifespan, every interval_s
    reports = await run_once(runtime)                   # None: another worker holds the lock
    reports = await run_once(runtime, tenant="acme")    # POST /v1/admin/retention/run

A tenant's period is its ``tenant_retention`` row (migration 0005; NULL days: keep
forever) or else ``SERVICE_RETENTION_DEFAULT_DAYS``. Every worker runs the loop; a
PostgreSQL advisory lock (try, never wait) lets one of them do each round.

Deletes go in batches, each one transaction with its outbox delete events (newer
versions, so a late index event cannot bring a document back) and its audit row; then
the documents are deleted from OpenSearch straight away and the tenant's cache is
invalidated, the erasure path (service.tenants.service) in bulk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from service import audit
from service.documents.service import delete_event, record_events
from service.runtime import Runtime

log = logging.getLogger("service.retention")
LOCK_KEY = 0x67645254  # "gdRT": one retention round at a time, across workers
# With the schema: services in other namespaces of the same database do not wait on us.
LOCK_SQL = "SELECT pg_try_advisory_lock($1, hashtext(current_schema()))"
ACTOR = "system:retention"


@dataclass(frozen=True)
class RetentionReport:
    tenant: str
    retention_days: int
    cutoff: datetime
    postgres_deleted: int
    opensearch_deleted: int

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "cutoff": self.cutoff.isoformat()}


@contextlib.asynccontextmanager
async def exclusive(runtime: Runtime) -> AsyncIterator[bool]:
    """True when this worker got the retention lock (held until the block ends). A session
    lock: behind PgBouncer (transaction pooling) it is taken on a connection of its own,
    straight to PostgreSQL (``SERVICE_POSTGRES_MIGRATION_DSN``), since a pooled one is a
    server session only for one transaction."""
    settings = runtime.settings.postgres
    if not settings.transaction_pooling:
        async with runtime.pool.acquire() as conn:
            async with _locked(conn) as got:
                yield got
        return
    session: asyncpg.Connection = await asyncpg.connect(
        settings.session_dsn,
        timeout=settings.command_timeout_s,
        server_settings={"search_path": settings.schema_name},
    )
    try:
        async with _locked(session) as got:
            yield got
    finally:
        await session.close()  # ends the session: the lock is released with it


@contextlib.asynccontextmanager
async def _locked(
    conn: asyncpg.Connection | asyncpg.pool.PoolConnectionProxy,
) -> AsyncIterator[bool]:
    got = bool(await conn.fetchval(LOCK_SQL, LOCK_KEY))
    try:
        yield got
    finally:
        if got:
            await conn.execute(
                "SELECT pg_advisory_unlock($1, hashtext(current_schema()))", LOCK_KEY
            )


async def tenant_period(runtime: Runtime, tenant: str) -> tuple[int | None, str]:
    """The tenant's retention in days (None: keep) and where it comes from."""
    row = await runtime.pool.fetchrow(
        "SELECT retention_days FROM tenant_retention WHERE tenant_id = $1", tenant
    )
    if row is not None:
        return row["retention_days"], "tenant"
    return runtime.settings.retention.default_days, "default"


async def _periods(runtime: Runtime, now: datetime, tenant: str | None) -> dict[str, int]:
    if tenant is not None:
        days, _ = await tenant_period(runtime, tenant)
        return {tenant: days} if days is not None else {}
    rows = await runtime.pool.fetch(
        "SELECT tenant_id, retention_days FROM tenant_retention WHERE retention_days IS NOT NULL"
    )
    periods = {r["tenant_id"]: int(r["retention_days"]) for r in rows}
    default_days = runtime.settings.retention.default_days
    if default_days is not None:
        others = await runtime.pool.fetch(
            "SELECT DISTINCT tenant_id FROM documents WHERE created_at < $1 "
            "AND tenant_id NOT IN (SELECT tenant_id FROM tenant_retention)",
            now - timedelta(days=default_days),
        )
        periods.update({r["tenant_id"]: default_days for r in others})
    return periods


async def run_once(
    runtime: Runtime, *, tenant: str | None = None, now: datetime | None = None
) -> list[RetentionReport] | None:
    """One round (every tenant, or one); None when another worker holds the lock."""
    now = now or datetime.now(UTC)
    async with exclusive(runtime) as got:
        if not got:
            return None
        reports = []
        for name, days in sorted((await _periods(runtime, now, tenant)).items()):
            report = await purge_tenant(runtime, name, days, now - timedelta(days=days))
            if report.postgres_deleted or tenant is not None:
                reports.append(report)
        return reports


async def purge_tenant(
    runtime: Runtime, tenant: str, retention_days: int, cutoff: datetime
) -> RetentionReport:
    batch_size = runtime.settings.retention.batch_size
    deleted: list[dict[str, Any]] = []
    while True:
        async with runtime.pg_transaction() as conn:
            rows = await conn.fetch(
                "DELETE FROM documents WHERE tenant_id = $1 AND id IN ("
                " SELECT id FROM documents WHERE tenant_id = $1 AND created_at < $2 LIMIT $3"
                ") RETURNING id, version",
                tenant,
                cutoff,
                batch_size,
            )
            if not rows:
                break
            events = [delete_event(tenant, r["id"], r["version"] + 1) for r in rows]
            await record_events(runtime, conn, tenant, events)
            await audit.write(
                conn,
                action="retention_delete",
                tenant=tenant,
                actor=ACTOR,
                detail={"documents": len(rows), "cutoff": cutoff.isoformat()},
            )
        deleted.extend(events)
        if len(rows) < batch_size:
            break
    removed = 0
    if deleted:
        if runtime.settings.outbox.enabled:
            runtime.outbox_wakeup.set()
        removed = await _delete_from_engine(runtime, tenant, deleted)
        await runtime.cache.invalidate_tenant(tenant)
        await audit.write(
            runtime.pool,
            action="retention_done",
            tenant=tenant,
            actor=ACTOR,
            detail={
                "postgres_deleted": len(deleted),
                "opensearch_deleted": removed,
                "cutoff": cutoff.isoformat(),
                "retention_days": retention_days,
            },
        )
        log.info("retention deleted %d documents of %s", len(deleted), tenant)
    return RetentionReport(tenant, retention_days, cutoff, len(deleted), removed)


async def _delete_from_engine(runtime: Runtime, tenant: str, events: list[dict[str, Any]]) -> int:
    alias = runtime.settings.opensearch.alias
    removed = 0
    for start in range(0, len(events), 1000):
        lines = [
            {
                "delete": {
                    "_index": alias,
                    "_id": e["id"],
                    "routing": tenant,
                    "version": e["version"],
                    "version_type": "external",
                }
            }
            for e in events[start : start + 1000]
        ]
        response = await runtime.opensearch.bulk(body=lines, params={"refresh": "true"})
        removed += sum(1 for i in response["items"] if i["delete"].get("result") == "deleted")
    return removed


async def run_forever(runtime: Runtime) -> None:
    """The lifespan's task: a round every ``interval_s``; a failed round is logged."""
    interval_s = runtime.settings.retention.interval_s
    while True:
        await asyncio.sleep(interval_s)
        try:
            await run_once(runtime)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("retention round failed, next in %.0fs: %r", interval_s, exc)
