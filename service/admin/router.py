from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from service import audit, retention
from service.admin import dlq
from service.admin.schemas import AuditEntry, AuditPage, RetentionIn, RetentionOut, RetentionRun
from service.dependencies import RuntimeDep
from service.tenants.dependencies import AdminDep

router = APIRouter(prefix="/v1/admin", tags=["admin"])
Limit = Annotated[int, Query(ge=1, le=1000)]


@router.get("/dlq")
async def list_dead_letters(
    principal: AdminDep, runtime: RuntimeDep, limit: Limit = 100
) -> dict[str, Any]:
    """The caller's tenant's messages the indexer gave up on, with the last error."""
    return await dlq.list_dead_letters(runtime, principal.tenant, limit=limit)


@router.post("/dlq/replay")
async def replay_dead_letters(
    principal: AdminDep, runtime: RuntimeDep, limit: Limit = 1000
) -> dict[str, Any]:
    """Sends the caller's tenant's dead letters back to the indexing queue."""
    result = await dlq.replay_dead_letters(runtime, principal.tenant, limit=limit)
    await audit.write(
        runtime.pool,
        action="dlq_replay",
        tenant=principal.tenant,
        actor=principal.subject,
        detail={"replayed": int(result.get("replayed", 0))},
    )
    return result


@router.get("/audit", response_model=AuditPage)
async def audit_log(
    principal: AdminDep,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[
        int | None, Query(ge=1, le=2**63 - 1, description="cursor: next_before of a page")
    ] = None,
) -> AuditPage:
    """The caller's tenant's audit trail, newest first, a page at a time."""
    rows = await audit.page(runtime.pool, principal.tenant, limit=limit, before_id=before)
    items = [AuditEntry.model_validate(r) for r in rows]
    return AuditPage(items=items, next_before=items[-1].id if len(items) == limit else None)


@router.get("/retention", response_model=RetentionOut)
async def get_retention(principal: AdminDep, runtime: RuntimeDep) -> RetentionOut:
    """How long the caller's tenant's documents are kept (days; null: forever)."""
    days, source = await retention.tenant_period(runtime, principal.tenant)
    return RetentionOut(tenant=principal.tenant, retention_days=days, source=source)


@router.put("/retention", response_model=RetentionOut)
async def set_retention(
    body: RetentionIn, principal: AdminDep, runtime: RuntimeDep
) -> RetentionOut:
    """Sets the caller's tenant's retention period (null: keep forever)."""
    async with runtime.pg_transaction() as conn:
        await conn.execute(
            "INSERT INTO tenant_retention (tenant_id, retention_days) VALUES ($1, $2) "
            "ON CONFLICT (tenant_id) DO UPDATE SET retention_days = $2, updated_at = now()",
            principal.tenant,
            body.retention_days,
        )
        await audit.write(
            conn,
            action="retention_set",
            tenant=principal.tenant,
            actor=principal.subject,
            detail={"retention_days": body.retention_days},
        )
    return RetentionOut(
        tenant=principal.tenant, retention_days=body.retention_days, source="tenant"
    )


@router.post("/retention/run", response_model=RetentionRun)
async def run_retention(principal: AdminDep, runtime: RuntimeDep) -> RetentionRun:
    """Runs the retention job for the caller's tenant now (the schedule does every tenant)."""
    reports = await retention.run_once(runtime, tenant=principal.tenant)
    report = reports[0] if reports else None
    return RetentionRun(
        tenant=principal.tenant,
        skipped=reports is None,
        retention_days=report.retention_days if report else None,
        postgres_deleted=report.postgres_deleted if report else 0,
        opensearch_deleted=report.opensearch_deleted if report else 0,
    )


@router.get("/cache")
async def cache_stats(principal: AdminDep, runtime: RuntimeDep) -> dict[str, int]:
    """Hit and miss counts of this worker's cache (metrics come later)."""
    return runtime.cache.stats.as_dict()


@router.get("/breakers")
async def breakers(principal: AdminDep, runtime: RuntimeDep) -> dict[str, Any]:
    """This worker's circuit breakers: state, failure rate over the window, time in state."""
    return {name: guard.breaker.snapshot() for name, guard in runtime.guards.items()}
