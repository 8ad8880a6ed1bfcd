"""The app factory: ``uvicorn --factory service.main:create_app``.

app = create_app()                      # settings from SERVICE_* variables
app = create_app(Settings.from_env())   # or injected, as tests do
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from service.admin.router import router as admin_router
from service.deps import opensearch, postgres, rabbitmq, redis
from service.documents.outbox import run_relay
from service.documents.router import router as documents_router
from service.health.router import router as health_router
from service.limits import BodyLimitMiddleware
from service.problems import install_problem_handlers
from service.runtime import Runtime
from service.search.cache import SearchCache
from service.search.router import router as search_router
from service.settings import Settings
from service.tenants.router import router as tenants_router

log = logging.getLogger("service")


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    pool = await postgres.create_pool(settings.postgres)
    redis_client = redis.create_client(settings.redis)
    search_client = opensearch.create_client(settings.opensearch)
    amqp = None
    relay: asyncio.Task[None] | None = None
    try:
        await opensearch.ensure_index(search_client, settings.opensearch)
        amqp = await rabbitmq.connect(settings.amqp)
        publisher = rabbitmq.Publisher(amqp, settings.amqp)
        await publisher.start()
        runtime = Runtime(
            settings=settings,
            pool=pool,
            redis=redis_client,
            opensearch=search_client,
            amqp=amqp,
            publisher=publisher,
            cache=SearchCache(settings.cache, redis_client, settings.redis.prefix),
        )
        if settings.outbox.enabled:
            relay = asyncio.create_task(run_relay(runtime), name="outbox-relay")
        app.state.runtime = runtime
        yield
    finally:
        app.state.runtime = None
        if relay is not None:
            relay.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relay
        if amqp is not None:
            await amqp.close()
        await search_client.close()
        await redis_client.aclose()
        await pool.close()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    app = FastAPI(
        title="gameday reference search service",
        version="1.0.0",
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.runtime = None
    app.add_middleware(
        BodyLimitMiddleware,
        max_body_bytes=settings.http.max_body_bytes,
        max_bulk_body_bytes=settings.http.max_bulk_body_bytes,
    )
    install_problem_handlers(app)
    for router in (health_router, documents_router, search_router, tenants_router, admin_router):
        app.include_router(router)
    return app
