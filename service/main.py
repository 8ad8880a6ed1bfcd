"""The app factory: ``uvicorn --factory service.main:create_app``.

app = create_app()                      # settings from SERVICE_* variables
app = create_app(Settings.from_env())   # or injected, as tests do
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator

from fastapi import FastAPI, Response
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from service import metrics, tracing
from service.admin.router import router as admin_router
from service.deps import opensearch, rabbitmq, redis
from service.deps.guards import build_guards
from service.deps.postgres_router import PostgresRouter
from service.documents.outbox import run_relay, stop_relay
from service.documents.router import router as documents_router
from service.health.router import probes_router
from service.health.router import router as health_router
from service.logs import RequestContextMiddleware, configure_logging
from service.problems import document_problems, install_problem_handlers
from service.resilience import set_testing
from service.retention import run_forever as run_retention
from service.runtime import Runtime
from service.search.cache import SearchCache
from service.search.router import router as search_router
from service.security import RateLimiter, RequestLimitsMiddleware, SecurityHeadersMiddleware
from service.settings import Settings
from service.tenants.router import router as tenants_router

log = logging.getLogger("service")


def freeze_startup_heap() -> int:
    """Moves every object alive after startup (modules, routes, clients: about 122,000 of
    them) out of the collector's reach, and returns how many the permanent generation
    holds. A full collection otherwise walks them all, with the event loop stopped:
    121-159 ms in a live worker here (29 ms back to back, bench/gc_pause.py), longer on a
    busy machine, a stall every request in flight waits out. What was garbage is
    collected first, so nothing that should go is kept."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    set_testing(settings.resilience.testing)
    startup: dict[str, object] = app.state.startup
    pg = await PostgresRouter.open(settings.postgres)
    startup["migrations_applied"] = True
    redis_client = redis.create_client(
        settings.redis, longest_call_s=settings.ratelimit.redis_write_timeout_s
    )
    search_client = opensearch.create_client(settings.opensearch, max_retries=0)
    guards = app.state.guards
    pg.use_guard(guards["postgres"])
    # With Sentinels: a new Redis primary closes the breaker (a no-op task without them)
    redis_watch = asyncio.create_task(
        redis.watch_primary(redis_client, on_switch=guards["redis"].breaker.reset),
        name="redis-primary-watch",
    )
    app.state.ratelimiter = RateLimiter(
        settings.ratelimit,
        redis_client,
        prefix=settings.redis.prefix,
        guard=guards["redis"],
        redis_timeout_s=settings.redis.timeout_s,
    )
    amqp: rabbitmq.Broker | None = None
    runtime: Runtime | None = None
    relay: asyncio.Task[None] | None = None
    depths: asyncio.Task[None] | None = None
    relay_stop = asyncio.Event()
    retention_job: asyncio.Task[None] | None = None
    try:
        await opensearch.ensure_index(search_client, settings.opensearch)
        # The broker may be down: the service starts all the same (writes wait in the
        # outbox); the channel and topology are made on the first publish.
        amqp = rabbitmq.Broker(settings.amqp)
        amqp.start()
        publisher = rabbitmq.Publisher(amqp, settings.amqp)
        runtime = Runtime(
            settings=settings,
            pg=pg,
            redis=redis_client,
            opensearch=search_client,
            amqp=amqp,
            publisher=publisher,
            cache=SearchCache(
                settings.cache,
                redis_client,
                settings.redis.prefix,
                guard=guards["redis"],
                redis_timeout_s=settings.redis.timeout_s,
                stale_max_age_s=settings.resilience.stale_max_age_s,
            ),
            guards=guards,
        )
        if settings.outbox.enabled:
            relay = asyncio.create_task(run_relay(runtime, stop=relay_stop), name="outbox-relay")
        depths = asyncio.create_task(
            rabbitmq.watch_queue_depths(
                amqp, settings.amqp, every_s=settings.metrics.queue_depth_interval_s
            ),
            name="queue-depths",
        )
        if settings.retention.enabled:
            retention_job = asyncio.create_task(run_retention(runtime), name="retention")
        app.state.runtime = runtime
        startup["pools_created"] = True
        startup["started_at"] = time.time()
        log.debug("startup heap frozen: %d objects", freeze_startup_heap())
        yield
    finally:
        # uvicorn has stopped accepting and waited for in-flight requests (up to
        # SERVICE_SHUTDOWN_GRACE_S); now the outbox gets its last chance to publish.
        app.state.runtime = None
        app.state.ratelimiter = None
        startup["pools_created"] = False
        for task in (depths, retention_job, redis_watch):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if relay is not None and runtime is not None:
            await stop_relay(relay, relay_stop, runtime, timeout_s=settings.shutdown.drain_s)
        if amqp is not None:
            await amqp.close()
        await search_client.close()
        # a pool given to the client is not closed with it by default
        await redis_client.aclose(close_connection_pool=True)
        await pg.close()
        tracing.shutdown_tracing()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_env()
    configure_logging(settings.logging)  # before uvicorn's first line of this worker
    tracing.setup_tracing(settings.tracing, "gameday-service")  # off unless an exporter is set
    app = FastAPI(
        title="gameday reference search service",
        version="1.0.0",
        openapi_url="/openapi.json",
        # Swagger UI and ReDoc need a looser CSP (service/security/headers.py): dev only.
        docs_url="/docs" if settings.auth.profile == "dev" else None,
        redoc_url="/redoc" if settings.auth.profile == "dev" else None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.runtime = None
    app.state.ratelimiter = None
    app.state.guards = build_guards(settings.resilience)
    app.state.startup = {"migrations_applied": False, "pools_created": False}
    app.add_middleware(RequestLimitsMiddleware, limits=settings.http)
    security = settings.security
    if security.cors_origin_list:  # none by default: no CORS headers at all
        app.add_middleware(
            CORSMiddleware,
            allow_origins=security.cors_origin_list,
            allow_methods=security.split(security.cors_methods),
            allow_headers=security.split(security.cors_headers),
            expose_headers=["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset",
                            "Retry-After", "X-Request-ID"],
            max_age=security.cors_max_age_s,
        )  # fmt: skip
    app.add_middleware(RequestContextMiddleware)  # outermost: sees every answer, 413s too
    install_problem_handlers(app)
    document_problems(app)
    tracing.instrument_app(app)  # server spans, outside every middleware of ours
    for router in (
        health_router,
        probes_router,
        documents_router,
        search_router,
        tenants_router,
        admin_router,
    ):
        app.include_router(router)

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> Response:
        """Prometheus text format; every worker's values (multiprocess mode)."""
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    # Security headers wrap even Starlette's ServerErrorMiddleware, which writes an
    # unhandled 500 outside every add_middleware layer.
    build_stack = app.build_middleware_stack

    def build_with_security_headers() -> ASGIApp:
        return SecurityHeadersMiddleware(build_stack(), settings=settings.security)

    app.build_middleware_stack = build_with_security_headers  # type: ignore[method-assign]
    return app
