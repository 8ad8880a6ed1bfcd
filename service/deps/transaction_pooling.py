"""asyncpg behind PgBouncer in transaction pooling mode: no session state.

PgBouncer gives a client a server connection for one transaction only, so whatever a
session sets (the startup parameters ``search_path`` and ``statement_timeout``, a
prepared statement, a session advisory lock) is gone, or worse lands on some other
client's transaction. A pool built with :func:`pool_options` therefore:

- keeps no prepared-statement cache (``statement_cache_size=0``);
- sends neither parameter at startup (PgBouncer refuses them: it is configured not to
  ignore them, so a misconfigured client fails loudly instead of writing into
  ``public``);
- runs every statement in a transaction that begins with
  ``SET LOCAL search_path`` and ``SET LOCAL statement_timeout`` (sent with the ``BEGIN``
  itself, in one round trip); a statement outside a transaction (``pool.fetchval``) is
  wrapped in one.

    kwargs = pool_options(settings)          # settings.transaction_pooling is set
    pool = await asyncpg.create_pool(dsn, **kwargs)
    await pool.fetchval("SELECT count(*) FROM documents")   # in settings.schema_name

Work that needs a session (migrations, retention's advisory lock) goes to
``settings.session_dsn`` (straight to PostgreSQL) instead.

Without a statement cache every parametrized statement costs two round trips (parse,
then bind and execute), so on a slow link a write of a few statements, each well
inside the statement timeout, takes several times it (4.6 s measured at 500 ms between
PgBouncer and PostgreSQL), and a lone read wrapped in its transaction 3.1 s.
:func:`bounded_transaction` holds the pool wait and the whole transaction (a request's,
or a lone statement's) to the statement timeout instead: past it the connection is terminated
(PgBouncer rolls its server side back) rather than waiting for a ROLLBACK over the same
slow link.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

import asyncpg

from service.settings import PostgresSettings

T = TypeVar("T")
Conn = TypeVar("Conn", asyncpg.Connection, asyncpg.pool.PoolConnectionProxy)


class _PinnedConnection(asyncpg.Connection):
    """Every statement in a transaction that pins the schema and the statement timeout;
    a statement outside one gets a transaction of its own, held to the timeout too."""

    pin_sql: str = ""  # set on the subclass that pinned_connection_class makes
    deadline_s: float = 0.0  # likewise: a lone statement's whole transaction

    async def _alone(self, call: Callable[[], Awaitable[T]]) -> T:
        if self.is_in_transaction():
            return await call()
        async with bounded_transaction(self, deadline_s=self.deadline_s):
            return await call()

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:
        if not args and query.startswith("BEGIN") and not self.is_in_transaction():
            # asyncpg's own Transaction.start(): pin in the same round trip.
            return await super().execute(f"{query} {self.pin_sql}", timeout=timeout)
        return await self._alone(
            lambda: super(_PinnedConnection, self).execute(query, *args, timeout=timeout)
        )

    async def executemany(self, command: str, args: Any, *, timeout: float | None = None) -> None:
        await self._alone(
            lambda: super(_PinnedConnection, self).executemany(command, args, timeout=timeout)
        )

    async def fetch(self, query: str, *args: Any, **kwargs: Any) -> Any:
        return await self._alone(
            lambda: super(_PinnedConnection, self).fetch(query, *args, **kwargs)
        )

    async def fetchrow(self, query: str, *args: Any, **kwargs: Any) -> Any:
        return await self._alone(
            lambda: super(_PinnedConnection, self).fetchrow(query, *args, **kwargs)
        )

    async def fetchval(self, query: str, *args: Any, **kwargs: Any) -> Any:
        return await self._alone(
            lambda: super(_PinnedConnection, self).fetchval(query, *args, **kwargs)
        )

    def get_reset_query(self) -> str:
        # Nothing of a session to reset (and a RESET ALL would only reach whichever
        # server connection PgBouncer picks): save the round trip on every release.
        return ""


def pinned_connection_class(
    schema: str, statement_timeout_ms: int, deadline_s: float
) -> type[asyncpg.Connection]:
    """A connection class whose transactions run in `schema` with that statement timeout,
    a lone statement's transaction held to `deadline_s`."""
    # The schema matches ^[a-z_][a-z0-9_]*$ (PostgresSettings), quoted as an identifier.
    pin = (
        f'SET LOCAL search_path TO "{schema}"; '
        f"SET LOCAL statement_timeout = {statement_timeout_ms};"
    )
    attributes = {"pin_sql": pin, "deadline_s": deadline_s}
    return type("PinnedConnection", (_PinnedConnection,), attributes)


def pool_options(settings: PostgresSettings) -> dict[str, Any]:
    """asyncpg.create_pool's keyword arguments for a pool behind PgBouncer."""
    timeout_ms = int(settings.statement_timeout_s * 1000)
    # A lone statement's pool wait is its caller's (up to acquire_timeout_s): the two
    # together stay within the statement timeout.
    deadline_s = max(0.1, settings.statement_timeout_s - settings.acquire_timeout_s)
    return {
        "statement_cache_size": 0,
        "connection_class": pinned_connection_class(settings.schema_name, timeout_ms, deadline_s),
        "server_settings": {"application_name": "gameday-service"},
    }


@contextlib.asynccontextmanager
async def bounded_transaction(conn: Conn, *, deadline_s: float) -> AsyncIterator[Conn]:
    """A transaction that ends within `deadline_s` or raises TimeoutError (a 503): its
    connection is terminated at the deadline, which fails whatever awaits it at once."""
    expired = False

    def expire() -> None:
        nonlocal expired
        expired = True
        conn.terminate()

    timer = asyncio.get_running_loop().call_later(deadline_s, expire)
    try:
        async with conn.transaction():
            yield conn
    except Exception as exc:
        if expired:
            raise TimeoutError(f"the transaction took over {deadline_s:g}s: terminated") from exc
        raise
    finally:
        timer.cancel()
