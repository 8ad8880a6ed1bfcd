from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from service.admin import dlq
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
    return await dlq.replay_dead_letters(runtime, principal.tenant, limit=limit)


@router.get("/cache")
async def cache_stats(principal: AdminDep, runtime: RuntimeDep) -> dict[str, int]:
    """Hit and miss counts of this worker's cache (metrics come later)."""
    return runtime.cache.stats.as_dict()


@router.get("/breakers")
async def breakers(principal: AdminDep, runtime: RuntimeDep) -> dict[str, Any]:
    """This worker's circuit breakers: state, failure rate over the window, time in state."""
    return {name: guard.breaker.snapshot() for name, guard in runtime.guards.items()}
