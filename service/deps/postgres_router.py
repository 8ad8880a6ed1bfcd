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

Each role check also reads the primary's WAL position and each standby's replay position:
how far every standby is behind (service/deps/replica_lag.py) goes to the
``service_pg_replica_lag_seconds`` and ``_bytes`` gauges, per standby, and to
``Node.lag_s``. Without replicas there is no check and no such gauge.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, NamedTuple, TypeVar
from urllib.parse import urlsplit

import asyncpg

from service import metrics
from service.deps.guards import postgres_failure
from service.deps.postgres import create_pool
from service.deps.replica_lag import ReplicaLag
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
    lag_s: float = math.nan  # a standby: behind the primary (nan: not measured)
    lag_reported: bool = False  # its lag gauges exist (set to nan once it is not a standby)

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
    lag: ReplicaLag = field(default_factory=ReplicaLag)
    clock: Callable[[], float] = time.monotonic  # the lag's time base (tests inject one)

    @classmethod
    async def open(cls, settings: PostgresSettings) -> PostgresRouter:
        """Pools for every node; migrations on whichever is writable (the DSN's, normally)."""
        dsns = [settings.dsn, *settings.replica_dsn_list]
        found = await asyncio.gather(*(_role_of(d) for d in dsns))
        roles = [seen.role for seen in found]
        # The configured primary unless it is down, a standby, or behind a promoted one.
        writable = [i for i, seen in enumerate(found) if seen.role == "primary"]
        first = max(writable, key=lambda i: (found[i].timeline, -i)) if writable else 0
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
            primary_timeline=found[first].timeline,
        )
        if len(nodes) > 1:
            router._measure_lag(found)
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
        for node, seen in zip(self.nodes, found, strict=True):
            if seen.role == "standby" and node.role != "fenced":
                node.role = "standby"
        writable = {
            id(n): seen.timeline
            for n, seen in zip(self.nodes, found, strict=True)
            if seen.role == "primary"
        }
        if id(self.primary_node) in writable:
            self.primary_timeline = max(self.primary_timeline, writable[id(self.primary_node)])
        newer = [n for n in self.nodes if writable.get(id(n), 0) > self.primary_timeline]
        if newer:
            chosen = max(newer, key=lambda n: writable[id(n)])
            self._follow(chosen, timeline=writable[id(chosen)])
        self._measure_lag(found)

    def _follow(self, chosen: Node, *, timeline: int) -> None:
        """Make `chosen`, promoted onto `timeline`, the primary; fence the old one."""
        self.primary_timeline = timeline
        self.lag.reset()  # the new primary's WAL is a new history
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

    def _measure_lag(self, found: list[NodeState]) -> None:
        """Each standby's lag behind the primary, from one round of role checks (`found`,
        in the order of ``nodes``): on the node and in the lag gauges."""
        now = self.clock()
        for node, seen in zip(self.nodes, found, strict=True):
            if node is self.primary_node and seen.role == "primary" and seen.lsn is not None:
                self.lag.saw_primary(seen.lsn, at_s=now)
        for node, seen in zip(self.nodes, found, strict=True):
            if node is self.primary_node or node.role == "fenced":
                node.lag_s = math.nan
                if node.lag_reported:  # it was a standby: its series say "not one now"
                    metrics.set_replica_lag(node.name, lag_s=math.nan, lag_bytes=math.nan)
                continue
            lag_bytes: float = math.nan
            node.lag_s = math.nan
            if seen.role == "standby" and seen.lsn is not None:
                node.lag_s = self.lag.seconds_behind(seen.lsn, now_s=now)
                lag_bytes = self.lag.bytes_behind(seen.lsn)
            metrics.set_replica_lag(node.name, lag_s=node.lag_s, lag_bytes=lag_bytes)
            node.lag_reported = True

    async def close(self) -> None:
        for task in (self._watching, self._detecting):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await asyncio.gather(*(n.pool.close() for n in self.nodes), return_exceptions=True)


class NodeState(NamedTuple):
    """What one role check saw: the role; for a primary its WAL timeline and current WAL
    position, for a standby its replay position (bytes from ``0/0``)."""

    role: Role
    timeline: int = 0
    lsn: int | None = None


async def _role_of(dsn: str) -> NodeState:
    """The node's role and WAL position and, for a primary, its WAL timeline."""
    try:
        conn = await asyncpg.connect(dsn, timeout=DETECT_TIMEOUT_S)
    except Exception:
        return NodeState("unknown")
    try:
        standby = await conn.fetchrow(
            "SELECT pg_is_in_recovery() AS yes, pg_last_wal_replay_lsn() - '0/0'::pg_lsn AS lsn",
            timeout=DETECT_TIMEOUT_S,
        )
        assert standby is not None  # one row, always
        if standby["yes"]:
            replayed = standby["lsn"]  # NULL until the standby has replayed anything
            return NodeState("standby", lsn=None if replayed is None else int(replayed))
        # The WAL file name starts with the timeline, 8 hex digits.
        wal = await conn.fetchrow(
            "SELECT pg_walfile_name(l) AS file, l - '0/0'::pg_lsn AS lsn "
            "FROM pg_current_wal_lsn() AS l",
            timeout=DETECT_TIMEOUT_S,
        )
        assert wal is not None
        return NodeState("primary", timeline=int(str(wal["file"])[:8], 16), lsn=int(wal["lsn"]))
    except Exception:
        return NodeState("unknown")
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.close(), DETECT_TIMEOUT_S)


def _name_of(dsn: str) -> str:
    parts = urlsplit(dsn)
    return f"{parts.hostname}:{parts.port or 5432}"
