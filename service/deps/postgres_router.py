"""Which PostgreSQL node to use: one pool per node, and the one that is the primary now.

    pg = await PostgresRouter.open(settings.postgres)   # SERVICE_POSTGRES_DSN (+ REPLICA_DSNS)
    async with pg.primary.acquire() as conn: ...         # writes: the primary, whichever it is
    row = await pg.read(lambda conn: conn.fetchrow(...)) # reads: a standby first, then the primary
    pg.suspect_primary()                                 # a write failed: find the primary again

Writes always go to ``primary``. When one fails because the node is gone or has
become read-only, the caller calls :meth:`suspect_primary`: a background task asks
every node ``SELECT pg_is_in_recovery()`` and follows a promoted standby, without a
restart; the request itself still fails fast (503) and is not retried. With replicas
the same check also runs every ``WATCH_INTERVAL_S`` (a worker that wrote nothing
during the outage follows too). A promotion starts a new WAL timeline, so the
primary is only ever left for a node on a *newer* timeline than the one it was on:
when the old primary is back after a failover (two nodes take writes), or when the
promoted node misses one role check, nothing moves back. A node we moved away from
is *fenced*: never read from again, since it no longer gets the new primary's writes.
A standby that fails a read is skipped for ``DOWN_FOR_S`` and the next node is tried;
a miss on a standby is confirmed on the primary, so a document just written is never
a 404 because of replication lag.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, TypeVar
from urllib.parse import urlsplit

import asyncpg

from service.deps.guards import postgres_failure
from service.deps.postgres import create_pool
from service.resilience import Guard
from service.settings import PostgresSettings

log = logging.getLogger("service.postgres")
T = TypeVar("T")
Role = Literal["primary", "standby", "fenced", "unknown"]

DETECT_TIMEOUT_S = 1.0  # each node's pg_is_in_recovery() during a re-detection
REDETECT_INTERVAL_S = 0.5  # at most one re-detection this often
DOWN_FOR_S = 2.0  # a node that failed a read is skipped this long
WATCH_INTERVAL_S = 2.0  # with replicas: how often every node is asked for its role


def is_node_loss(exc: BaseException) -> bool:
    """The node is gone or cannot take writes: worth looking for another primary."""
    return isinstance(
        exc,
        asyncpg.exceptions.ReadOnlySQLTransactionError
        | asyncpg.PostgresConnectionError
        | asyncpg.exceptions.AdminShutdownError
        | asyncpg.exceptions.CannotConnectNowError
        | asyncpg.InterfaceError
        | OSError
        | TimeoutError,
    )


@dataclass
class Node:
    name: str  # host:port, as the service reaches it (a proxy in the stack)
    dsn: str
    pool: asyncpg.Pool
    role: Role = "unknown"
    down_until: float = 0.0

    def usable(self, now: float) -> bool:
        return now >= self.down_until


@dataclass
class PostgresRouter:
    nodes: list[Node]
    primary_node: Node
    settings: PostgresSettings
    primary_timeline: int = 0  # the primary's WAL timeline when last seen writable
    on_switch: list[Callable[[str, str], None]] = field(default_factory=list)
    guard: Guard | None = None  # the "postgres" breaker: reads on the primary go through it
    _detecting: asyncio.Task[None] | None = None
    _watching: asyncio.Task[None] | None = None
    _last_detect: float = 0.0

    @classmethod
    async def open(cls, settings: PostgresSettings) -> PostgresRouter:
        """Pools for every node; migrations on whichever is writable (the DSN's, normally)."""
        dsns = [settings.dsn, *settings.replica_dsn_list]
        found = await asyncio.gather(*(_role_of(d) for d in dsns))
        roles = [role for role, _ in found]
        # The configured primary unless it is down, a standby, or behind a promoted one.
        writable = [i for i, (role, _) in enumerate(found) if role == "primary"]
        first = max(writable, key=lambda i: (found[i][1], -i)) if writable else 0
        nodes: list[Node] = []
        try:
            for i, dsn in enumerate(dsns):
                pool = await create_pool(
                    settings,
                    dsn=dsn,
                    migrate=i == first,
                    # A standby may be down at start: it is connected on first use.
                    min_size=None if i == first else 0,
                )
                role: Role = "primary" if i == first else roles[i]
                if role == "primary" and i != first:
                    role = "fenced"  # two writable nodes: read only from the one we write to
                nodes.append(Node(name=_name_of(dsn), dsn=dsn, pool=pool, role=role))
        except BaseException:
            await asyncio.gather(*(n.pool.close() for n in nodes), return_exceptions=True)
            raise
        router = cls(
            nodes=nodes,
            primary_node=nodes[first],
            settings=settings,
            primary_timeline=found[first][1],
        )
        if len(nodes) > 1:
            router._watching = asyncio.get_running_loop().create_task(
                router._watch(), name="postgres-watch"
            )
        return router

    def use_guard(self, guard: Guard) -> None:
        """Reads on the primary count on `guard`; a promotion closes it (a new node)."""
        self.guard = guard
        self.on_switch.append(lambda old, new: guard.breaker.reset())

    @property
    def primary(self) -> asyncpg.Pool:
        return self.primary_node.pool

    @property
    def standbys(self) -> list[Node]:
        return [n for n in self.nodes if n is not self.primary_node and n.role != "fenced"]

    def read_order(self) -> list[Node]:
        """Usable standbys, then the primary, then standbys marked down (last resort)."""
        now = time.monotonic()
        up = [n for n in self.standbys if n.usable(now)]
        down = [n for n in self.standbys if not n.usable(now)]
        return [*up, self.primary_node, *down]

    async def read(
        self,
        query: Callable[[asyncpg.pool.PoolConnectionProxy], Awaitable[T]],
        *,
        confirm_missing: bool = True,
    ) -> T:
        """Run a read-only `query` on a standby, falling back node by node on node loss.
        With `confirm_missing`, a None from a standby is asked again of the primary."""
        timeout_s = self.settings.acquire_timeout_s
        last: BaseException | None = None
        for node in self.read_order():
            try:
                async with self._guarded(node), node.pool.acquire(timeout=timeout_s) as conn:
                    result = await query(conn)
            except Exception as exc:
                if not is_node_loss(exc):
                    raise
                last = exc
                node.down_until = time.monotonic() + DOWN_FOR_S
                if node is self.primary_node:
                    self.suspect_primary()
                log.warning("read on %s failed, trying the next node: %r", node.name, exc)
                continue
            node.down_until = 0.0
            if result is None and confirm_missing and node is not self.primary_node:
                with contextlib.suppress(Exception):  # the primary away: the standby's answer
                    async with self.primary.acquire(timeout=timeout_s) as conn:
                        return await query(conn)
            return result
        assert last is not None
        raise last

    def _guarded(self, node: Node) -> contextlib.AbstractAsyncContextManager[None]:
        if node is not self.primary_node or self.guard is None:
            return contextlib.nullcontext()
        return self.guard.track(is_failure=postgres_failure)

    def suspect_primary(self) -> None:
        """Look for the primary again, in the background (at most every REDETECT_INTERVAL_S)."""
        if self._detecting is not None and not self._detecting.done():
            return
        if time.monotonic() - self._last_detect < REDETECT_INTERVAL_S:
            return
        self._last_detect = time.monotonic()
        self._detecting = asyncio.get_running_loop().create_task(
            self.redetect(), name="postgres-redetect"
        )

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCH_INTERVAL_S)
            try:
                await self.redetect()
            except Exception as exc:  # never let the watch die; the next round retries
                log.warning("postgres role check failed: %r", exc)

    async def redetect(self) -> None:
        """Ask every node whether it is in recovery; follow a promoted standby."""
        found = await asyncio.gather(*(_role_of(n.dsn) for n in self.nodes))
        for node, (role, _) in zip(self.nodes, found, strict=True):
            if role == "standby" and node.role != "fenced":
                node.role = "standby"
        writable = {
            id(n): timeline
            for n, (role, timeline) in zip(self.nodes, found, strict=True)
            if role == "primary"
        }
        if id(self.primary_node) in writable:
            self.primary_timeline = max(self.primary_timeline, writable[id(self.primary_node)])
        newer = [n for n in self.nodes if writable.get(id(n), 0) > self.primary_timeline]
        if not newer:
            return  # the primary stays (or is away and no standby has been promoted yet)
        chosen = max(newer, key=lambda n: writable[id(n)])
        self.primary_timeline = writable[id(chosen)]
        old = self.primary_node
        old.role = "fenced"
        chosen.role = "primary"
        chosen.down_until = 0.0
        self.primary_node = chosen
        log.warning(
            "postgres primary moved from %s to %s",
            old.name,
            chosen.name,
            extra={"event": "postgres_failover", "from": old.name, "to": chosen.name},
        )
        for callback in self.on_switch:
            callback(old.name, chosen.name)

    async def close(self) -> None:
        for task in (self._watching, self._detecting):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await asyncio.gather(*(n.pool.close() for n in self.nodes), return_exceptions=True)


async def _role_of(dsn: str) -> tuple[Role, int]:
    """The node's role and, for a primary, its WAL timeline (0 otherwise)."""
    try:
        conn = await asyncpg.connect(dsn, timeout=DETECT_TIMEOUT_S)
    except Exception:
        return "unknown", 0
    try:
        standby = await conn.fetchval("SELECT pg_is_in_recovery()", timeout=DETECT_TIMEOUT_S)
        if standby:
            return "standby", 0
        # The WAL file name starts with the timeline, 8 hex digits.
        wal = await conn.fetchval(
            "SELECT pg_walfile_name(pg_current_wal_lsn())", timeout=DETECT_TIMEOUT_S
        )
        return "primary", int(str(wal)[:8], 16)
    except Exception:
        return "unknown", 0
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.close(), DETECT_TIMEOUT_S)


def _name_of(dsn: str) -> str:
    parts = urlsplit(dsn)
    return f"{parts.hostname}:{parts.port or 5432}"
