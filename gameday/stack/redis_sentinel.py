"""Redis behind Sentinel (`gameday stack up --redis-sentinel`): a replica of the stack's
Redis and three Sentinels (Debian's `redis-sentinel`), each behind its own proxy
(`redis-replica`, `redis-sentinel-0..2`).

Everything is addressed through Toxiproxy. The Redis servers announce their proxies'
ports (`replica-announce-ip/port`) and the Sentinels theirs (`sentinel announce-ip/
announce-port`), and the Sentinels monitor the primary at its proxy; so what Sentinel
gives a client that asks for the primary is a proxy port, and a client that follows
Sentinel never reaches Redis around Toxiproxy. Replication goes through the proxies too
(after a failover Sentinel points the replicas at the announced address anyway): cutting
the `redis` proxy is a partition of the primary, and Sentinel fails over.

    SENTINEL_MASTER                 # "gameday": the name the Sentinels monitor
    DOWN_AFTER_MS                   # 2000: Sentinel's down-after-milliseconds (default 30 s)
    FAILOVER_TIMEOUT_MS             # 10000: its failover-timeout (default 3 min)
    primary_component(settings)     # "redis" or "redis-replica": the one Sentinel names

Sentinel rewrites its config file, so it is generated in its data dir, afresh at each
start: from what a running Sentinel says the primary is, else the stack's `redis`. A
Redis server started while Sentinels run and name another primary (the old primary
restarted after a failover) starts as a replica of that one, so it never comes back
as a second, empty primary.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.retry import Retry

from gameday.settings import StackSettings
from gameday.stack.component import Component, Health, Launch, proxy
from gameday.stack.redis import Redis
from gameday.toxiproxy import Proxy

SENTINEL_MASTER = "gameday"
SENTINELS = 3
QUORUM = 2
# 2 s: short enough for a failover in a few seconds, long enough that a busy 2-core
# machine's stalls are not taken for a dead primary (Sentinel's default is 30 s).
DOWN_AFTER_MS = 2000
# How long one failover attempt may take before another Sentinel tries (and the bound on
# reconfiguring the replicas); Sentinel's default is 3 minutes.
FAILOVER_TIMEOUT_MS = 10000
ASK_TIMEOUT_S = 0.5


def sentinel_proxy_ports(settings: StackSettings) -> list[int]:
    return [settings.redis_sentinel_proxy_port + i for i in range(SENTINELS)]


def redis_proxy_ports(settings: StackSettings) -> dict[str, int]:
    """The announced (proxy) port of each Redis server, by component name."""
    return {"redis": settings.redis_proxy_port, "redis-replica": settings.redis_replica_proxy_port}


def redis_proxy_port_of(settings: StackSettings, component: str) -> int:
    return redis_proxy_ports(settings)[component]


def ask_primary(settings: StackSettings) -> tuple[str, int] | None:
    """What the first Sentinel that answers names as the primary, or None (none runs)."""
    return next(_named_primaries(settings), None)


def named_primaries(settings: StackSettings) -> list[tuple[str, int]]:
    """What each Sentinel that answers names as the primary. After a failover they agree
    only once the leader's new configuration has reached the others (their hello
    messages, every 2 s); a client may follow the first that names the new one."""
    return list(_named_primaries(settings))


def _named_primaries(settings: StackSettings) -> Iterator[tuple[str, int]]:
    for port in sentinel_proxy_ports(settings):
        client = redis.Redis(
            host=settings.host,
            port=port,
            socket_timeout=ASK_TIMEOUT_S,
            socket_connect_timeout=ASK_TIMEOUT_S,
            retry=Retry(NoBackoff(), 0),  # redis-py retries 3 times with backoff: 3 s a refusal
        )
        try:
            answer: Any = client.sentinel_get_master_addr_by_name(SENTINEL_MASTER)
        except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
            continue
        finally:
            client.close()
        if answer:
            host, port_text = answer
            host = host.decode() if isinstance(host, bytes) else str(host)
            yield host, int(port_text)


def primary_component(settings: StackSettings) -> str | None:
    """The Redis component Sentinel names as the primary (None: no Sentinel answers, or
    it names an address that is no proxy of ours)."""
    primary = ask_primary(settings)
    if primary is None:
        return None
    by_port = {port: name for name, port in redis_proxy_ports(settings).items()}
    return by_port.get(primary[1])


def sentinel_redis_args(settings: StackSettings, name: str) -> list[str]:
    """The extra redis-server arguments of Redis server `name` under Sentinel."""
    own_proxy = redis_proxy_ports(settings)[name]
    args = ["--replica-announce-ip", settings.host, "--replica-announce-port", str(own_proxy)]
    primary = ask_primary(settings)
    if primary is not None:
        if primary[1] != own_proxy:
            args += ["--replicaof", primary[0], str(primary[1])]
    elif name != "redis":  # a fresh stack: `redis` is the primary
        args += ["--replicaof", settings.host, str(settings.redis_proxy_port)]
    return args


class RedisReplica(Redis):
    name = "redis-replica"
    dependency = False  # the service reaches it only when Sentinel names it the primary
    enabled_by = "redis_sentinel"

    @property
    def port(self) -> int:
        return self.settings.redis_replica_port

    def proxies(self) -> list[Proxy]:
        return [proxy("redis-replica", self.settings.redis_replica_proxy_port, self.port)]


class RedisSentinel(Component):
    """Sentinel `index` of three; subclasses below fix the index (one component each)."""

    index = 0
    enabled_by = "redis_sentinel"
    # It monitors the primary through its proxy and talks to the other Sentinels through
    # theirs: it starts once every proxy exists.
    after_proxies = True

    @property
    def port(self) -> int:
        return self.settings.redis_sentinel_port + self.index

    @property
    def announced_port(self) -> int:
        return self.settings.redis_sentinel_proxy_port + self.index

    def proxies(self) -> list[Proxy]:
        return [proxy(self.name, self.announced_port, self.port)]

    def missing(self) -> str | None:
        if shutil.which("redis-sentinel") is None:
            return "redis-sentinel is not installed: run `make bootstrap`"
        return None

    @property
    def config_path(self) -> Path:
        return self.data_dir / "sentinel.conf"

    def prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        default = (self.settings.host, self.settings.redis_proxy_port)
        host, port = ask_primary(self.settings) or default
        self.config_path.write_text(
            "\n".join(
                [
                    f"bind {self.settings.host}",
                    f"port {self.port}",
                    "daemonize no",
                    f'dir "{self.data_dir}"',
                    f"sentinel announce-ip {self.settings.host}",
                    f"sentinel announce-port {self.announced_port}",
                    f"sentinel monitor {SENTINEL_MASTER} {host} {port} {QUORUM}",
                    f"sentinel down-after-milliseconds {SENTINEL_MASTER} {DOWN_AFTER_MS}",
                    f"sentinel failover-timeout {SENTINEL_MASTER} {FAILOVER_TIMEOUT_MS}",
                    f"sentinel parallel-syncs {SENTINEL_MASTER} 1",
                    "",
                ]
            )
        )

    def launch(self) -> Launch:
        return Launch(argv=["redis-sentinel", str(self.config_path)])

    async def check(self) -> Health:
        """Healthy once it knows the primary, a replica and the two other Sentinels:
        only then can it take part in a failover."""
        client = aioredis.Redis(host=self.settings.host, port=self.port, socket_timeout=2.0)
        try:
            state: dict[str, Any] = await client.sentinel_master(SENTINEL_MASTER)  # type: ignore[assignment]
            info = await client.info("server")
        finally:
            await client.aclose()
        others = int(state.get("num-other-sentinels", 0))
        replicas = int(state.get("num-slaves", 0))
        version = f"{info.get('redis_version')} (primary :{state.get('port')})"
        if others < SENTINELS - 1 or replicas < 1:
            return Health(
                healthy=False,
                version=version,
                error=f"knows {others} other Sentinel(s) and {replicas} replica(s)",
            )
        return Health(healthy=True, version=version)


class RedisSentinel0(RedisSentinel):
    name = "redis-sentinel-0"
    index = 0


class RedisSentinel1(RedisSentinel):
    name = "redis-sentinel-1"
    index = 1


class RedisSentinel2(RedisSentinel):
    name = "redis-sentinel-2"
    index = 2


SENTINEL_COMPONENTS: list[type[Component]] = [RedisSentinel0, RedisSentinel1, RedisSentinel2]
