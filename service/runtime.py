"""Everything the lifespan opens, in one object on ``app.state.runtime``."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from opensearchpy import AsyncOpenSearch

from service.deps.postgres_router import PostgresRouter, is_node_loss
from service.deps.rabbitmq import Broker, Publisher
from service.deps.transaction_pooling import bounded_transaction
from service.resilience import BreakerOpen, Guard
from service.search.cache import SearchCache
from service.settings import Settings

MIN_TRANSACTION_S = 0.1  # behind PgBouncer: what a transaction is given at the least


@dataclass
class Runtime:
    settings: Settings
    pg: PostgresRouter  # the pools; writes go to pg.primary, reads through pg.read
    redis: aioredis.Redis
    opensearch: AsyncOpenSearch
    amqp: Broker  # connects in the background: the service starts without the broker
    publisher: Publisher
    cache: SearchCache
    guards: dict[str, Guard] = field(default_factory=dict)
    outbox_wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    background: set[asyncio.Task[Any]] = field(default_factory=set)
    # Best-effort audit rows (rejections) use one pooled connection at a time: a flood of
    # 429s must not take the connections that the requests themselves need.
    audit_slot: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(1))

    @property
    def pool(self) -> asyncpg.Pool:
        """The current primary's pool (it changes when a replica is promoted)."""
        return self.pg.primary

    @contextlib.asynccontextmanager
    async def pg_transaction(self) -> AsyncIterator[asyncpg.pool.PoolConnectionProxy]:
        """A pooled connection in a transaction, behind the PostgreSQL breaker: with the
        breaker open (or the pool exhausted past ``acquire_timeout_s``) it fails fast,
        which the problem handlers turn into a 503. Not retried: a write whose commit
        outcome is unknown must not be sent twice. A failure that says the node is gone or
        read-only (or the breaker open) makes the router look for the primary again."""
        from service.deps.guards import postgres_failure  # guards imports metrics, not us

        guard = self.guards.get("postgres")
        timeout_s = self.settings.postgres.acquire_timeout_s
        started = time.monotonic()
        try:
            if guard is None:
                async with (
                    self.pool.acquire(timeout=timeout_s) as conn,
                    self._transaction(conn, started),
                ):
                    yield conn
                return
            async with (
                guard.track(is_failure=postgres_failure),
                self.pool.acquire(timeout=timeout_s) as conn,
                self._transaction(conn, started),
            ):
                yield conn
        except Exception as exc:
            if isinstance(exc, BreakerOpen) or is_node_loss(exc):
                self.pg.suspect_primary()
            raise

    def _transaction(
        self, conn: asyncpg.pool.PoolConnectionProxy, started: float
    ) -> contextlib.AbstractAsyncContextManager[Any]:
        """Behind PgBouncer the pool wait and the whole transaction together are held to
        the statement timeout (each statement costs two round trips there:
        service/deps/transaction_pooling.py)."""
        settings = self.settings.postgres
        if settings.transaction_pooling:
            left_s = settings.statement_timeout_s - (time.monotonic() - started)
            return bounded_transaction(conn, deadline_s=max(MIN_TRANSACTION_S, left_s))
        return conn.transaction()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Fire and forget, keeping a reference so the task is not collected."""
        task = asyncio.get_running_loop().create_task(coro)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
