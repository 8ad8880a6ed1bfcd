"""Probes. ``/health/live``: the process answers. ``/health/startup``: migrations applied
and pools created. ``/health/ready``: it can serve: PostgreSQL reachable (writes) and the
search path usable (OpenSearch, or the cache when OpenSearch is down); 503 otherwise.
Every body lists each dependency with its status, breaker state and last error; with
PostgreSQL replicas, each one too (``postgres-replica``; ``fenced``: an old primary left
behind by a failover) and ``postgres_primary``, the node writes go to now. A replica
down does not make the service unready: its reads fall back to the primary. A standby's
entry has ``lag_s``, how far behind the primary this worker's last role check found it
(null when not measured; service/deps/replica_lag.py).

``/v1/health`` and ``/v1/health/ready`` are the older paths, kept: the first is liveness,
the second the same readiness as ``/health/ready``.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.deps import opensearch, postgres, redis
from service.resilience import Guard
from service.runtime import Runtime

PROBE_TIMEOUT_S = 1.0

router = APIRouter(prefix="/v1/health", tags=["health"])
probes_router = APIRouter(prefix="/health", tags=["health"])


async def _probe(probe: Awaitable[Any]) -> tuple[str, str | None]:
    try:
        await asyncio.wait_for(probe, timeout=PROBE_TIMEOUT_S)
        return "ok", None
    except Exception as exc:
        return "failed", f"{type(exc).__name__}: {exc}"[:200]


def _dependency(status: str, error: str | None, guard: Guard | None) -> dict[str, Any]:
    breaker = guard.breaker.snapshot() if guard is not None else None
    last_error = error or (breaker["last_error"] if breaker else None)
    return {
        "status": status,
        "breaker": breaker["state"] if breaker else None,
        "last_error": last_error,
    }


async def readiness(request: Request) -> JSONResponse:
    runtime: Runtime | None = getattr(request.app.state, "runtime", None)
    if runtime is None:
        return JSONResponse({"status": "starting", "dependencies": {}}, status_code=503)
    guards = runtime.guards
    (pg, pg_err), (rd, rd_err), (os_, os_err) = await asyncio.gather(
        _probe(postgres.ping(runtime.pool)),
        _probe(redis.ping(runtime.redis)),
        _probe(opensearch.ping(runtime.opensearch)),
    )
    replicas = await _replicas(runtime)
    amqp_closed = bool(getattr(runtime.amqp, "is_closed", False))
    deps = {
        "postgres": _dependency(pg, pg_err, guards.get("postgres")),
        "redis": _dependency(rd, rd_err, guards.get("redis")),
        "opensearch": _dependency(os_, os_err, guards.get("opensearch")),
        "rabbitmq": _dependency(
            "failed" if amqp_closed else "ok",
            "connection closed" if amqp_closed else None,
            guards.get("rabbitmq"),
        ),
        **replicas,
    }
    # Search can serve from the engine, or degraded from the cache (L1 at worst).
    search_usable = os_ == "ok" or runtime.cache.enabled
    ready = pg == "ok" and search_usable
    all_ok = all(d["status"] == "ok" for d in deps.values())
    status = "ok" if all_ok else ("degraded" if ready else "unavailable")
    body: dict[str, Any] = {"status": status, "ready": ready, "dependencies": deps}
    if replicas:
        body["postgres_primary"] = runtime.pg.primary_node.name
    return JSONResponse(body, status_code=200 if ready else 503)


async def _replicas(runtime: Runtime) -> dict[str, dict[str, Any]]:
    standbys = [n for n in runtime.pg.nodes if n is not runtime.pg.primary_node]
    probes = await asyncio.gather(
        *(_probe(postgres.ping(n.pool)) for n in standbys if n.role != "fenced")
    )
    results = iter(probes)
    out: dict[str, dict[str, Any]] = {}
    for i, node in enumerate(standbys):
        key = "postgres-replica" if len(standbys) == 1 else f"postgres-replica-{i + 1}"
        if node.role == "fenced":
            out[key] = _dependency("fenced", f"{node.name} was the primary before a failover", None)
        else:
            out[key] = _dependency(*next(results), None)
            out[key]["lag_s"] = None if math.isnan(node.lag_s) else round(node.lag_s, 3)
    return out


@router.get("")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready")
async def ready(request: Request) -> JSONResponse:
    """The same readiness as ``/health/ready``."""
    return await readiness(request)


@probes_router.get("/live")
async def probe_live() -> dict[str, str]:
    return {"status": "ok"}


@probes_router.get("/ready")
async def probe_ready(request: Request) -> JSONResponse:
    return await readiness(request)


@probes_router.get("/startup")
async def probe_startup(request: Request) -> JSONResponse:
    startup: dict[str, Any] = dict(getattr(request.app.state, "startup", {}))
    started = bool(startup.get("migrations_applied") and startup.get("pools_created"))
    guards: dict[str, Guard] = getattr(request.app.state, "guards", {})
    body = {
        "status": "started" if started else "starting",
        "migrations_applied": bool(startup.get("migrations_applied")),
        "pools_created": bool(startup.get("pools_created")),
        "uptime_s": round(time.time() - startup["started_at"], 3)
        if "started_at" in startup
        else None,
        "dependencies": {
            name: {"breaker": g.breaker.state.value, "last_error": g.breaker.last_error}
            for name, g in guards.items()
        },
    }
    return JSONResponse(body, status_code=200 if started else 503)
