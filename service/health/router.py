from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from service.deps import opensearch, postgres, redis

router = APIRouter(prefix="/v1/health", tags=["health"])


@router.get("")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready")
async def ready(request: Request) -> JSONResponse:
    """200 when PostgreSQL, Redis, RabbitMQ and OpenSearch answer; 503 with details otherwise."""
    runtime = getattr(request.app.state, "runtime", None)
    if runtime is None:
        return JSONResponse({"status": "starting"}, status_code=503)
    checks: dict[str, Any] = {}

    async def check(name: str, probe: Any) -> None:
        try:
            await asyncio.wait_for(probe, timeout=2.0)
            checks[name] = "ok"
        except Exception as exc:
            checks[name] = f"failed: {type(exc).__name__}"

    await asyncio.gather(
        check("postgres", postgres.ping(runtime.pool)),
        check("redis", redis.ping(runtime.redis)),
        check("opensearch", opensearch.ping(runtime.opensearch)),
    )
    checks["rabbitmq"] = "ok" if not runtime.amqp.is_closed else "failed: closed"
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if ok else "degraded", "checks": checks}, status_code=200 if ok else 503
    )
