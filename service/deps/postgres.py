"""PostgreSQL: the asyncpg pool (search_path pinned to our schema) and its health.
Behind PgBouncer (``transaction_pooling``) the pool pins them per transaction instead
(service/deps/transaction_pooling.py)."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

from service.deps.transaction_pooling import pool_options
from service.migrations import apply_migrations
from service.settings import PostgresSettings


def _encode_json(value: object) -> str:
    return orjson.dumps(value).decode()


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec(
        "jsonb", encoder=_encode_json, decoder=orjson.loads, schema="pg_catalog"
    )


async def create_pool(
    settings: PostgresSettings,
    *,
    migrate: bool = True,
    dsn: str | None = None,
    min_size: int | None = None,
) -> asyncpg.Pool:
    """A pool whose connections see only ``settings.schema_name``; migrations run first.
    `dsn` overrides ``settings.dsn`` (a replica); `min_size=0` connects on first use."""
    dsn = dsn or settings.dsn
    if migrate:
        # A session of its own (SET search_path, a session advisory lock): behind
        # PgBouncer, straight to PostgreSQL (settings.migration_dsn).
        migration_dsn = settings.migration_dsn or dsn
        conn = await asyncpg.connect(migration_dsn, timeout=settings.command_timeout_s)
        try:
            await apply_migrations(conn, settings.schema_name)
        finally:
            await conn.close()
    # Client side and server side: a stuck statement is cancelled on both ends.
    session: dict[str, Any] = {
        "server_settings": {
            "statement_timeout": str(int(settings.statement_timeout_s * 1000)),
            "search_path": settings.schema_name,
            "application_name": "gameday-service",
        }
    }
    pool = await asyncpg.create_pool(
        dsn,
        min_size=settings.pool_min if min_size is None else min_size,
        max_size=settings.pool_max,
        command_timeout=settings.statement_timeout_s,
        timeout=settings.command_timeout_s,
        init=_init_connection,
        # Behind PgBouncer: SET LOCAL in every transaction instead of session settings.
        **(pool_options(settings) if settings.transaction_pooling else session),
    )
    assert pool is not None
    return pool


async def ping(pool: asyncpg.Pool) -> None:
    await pool.fetchval("SELECT 1")
