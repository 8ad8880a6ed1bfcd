"""Ordered SQL migrations: ``NNNN_name.sql`` files applied once each, in order,
recorded in ``schema_migrations``. Start-up of every worker calls
:func:`apply_migrations`; an advisory lock makes concurrent workers take turns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

MIGRATIONS_DIR = Path(__file__).parent
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x6A6D6564  # any constant shared by all workers


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """All migrations in version order; a gap or a duplicate version is an error."""
    found: list[Migration] = []
    for path in directory.glob("*.sql"):
        match = _NAME.match(path.name)
        if match is None:
            raise ValueError(f"migration file {path.name!r} must be named NNNN_name.sql")
        found.append(Migration(int(match[1]), match[2], path.read_text()))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise ValueError(
                f"migration versions must be 1..N without gaps; expected {expected:04d}, "
                f"found {migration.version:04d}_{migration.name}"
            )
    return found


async def apply_migrations(
    conn: asyncpg.Connection, schema: str, migrations: list[Migration] | None = None
) -> list[int]:
    """Apply pending migrations in ``schema``; returns the versions applied now."""
    todo = load_migrations() if migrations is None else migrations
    applied_now: list[int] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await conn.execute(f'SET search_path TO "{schema}"')
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for migration in todo:
            if migration.version in done:
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    migration.version,
                    migration.name,
                )
            applied_now.append(migration.version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return applied_now
