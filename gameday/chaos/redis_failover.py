"""The Redis primary's loss under Sentinel (`stack up --redis-sentinel`), as Chaos
Toolkit python providers: SIGKILL whichever Redis Sentinel names the primary, time the
failover, and bring the killed server back as a replica.

    kill_redis_primary(wait_failover_s=30)   # 'redis-primary-killed', once a new primary writes
    restart_redis()                                    # rollback: it rejoins as a replica

The failover time is measured by the harness, not read off the load: from the SIGKILL
to the first write (`SET`) that the address a Sentinel now names accepts, polled every
POLL_S (every Sentinel is asked: until the leader's new configuration reaches the
others, only some name the new primary, and clients follow the first). It is recorded
as a `replica_promoted` event (target `redis`), and the kill as
the fault `redis-primary-killed` (target `redis`), which `restart_redis` ends.
"""

from __future__ import annotations

import os
import signal
import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from gameday import stack
from gameday.chaos.events import Configuration, run_dir_of
from gameday.chaos.fault_rule import FaultRule
from gameday.errors import StackError
from gameday.rundir import FaultInjected, FaultRemoved, ReplicaPromoted
from gameday.settings import StackSettings

__all__ = ["REDIS_FAULTS", "kill_redis_primary", "restart_redis"]

POLL_S = 0.1
CALL_TIMEOUT_S = 0.5
REDIS_SERVERS = ("redis", "redis-replica")
REJOIN_TIMEOUT_S = 30.0


def _settings() -> StackSettings:
    return stack.recorded_settings(StackSettings())


def _client(settings: StackSettings, port: int) -> redis.Redis:
    return redis.Redis(
        host=settings.host,
        port=port,
        socket_timeout=CALL_TIMEOUT_S,
        socket_connect_timeout=CALL_TIMEOUT_S,
        retry=Retry(NoBackoff(), 0),  # one try per poll: redis-py's 3 retries back off for seconds
    )


def _takes_a_write(settings: StackSettings, port: int) -> bool:
    client = _client(settings, port)
    try:
        return bool(client.set("gameday:failover-probe", str(time.time()), ex=60))
    except redis.RedisError:  # refused, reset, READONLY (still a replica): not yet
        return False
    finally:
        client.close()


def kill_redis_primary(
    wait_failover_s: float = 30.0, configuration: Configuration | None = None
) -> str:
    """SIGKILL the Redis server Sentinel names as the primary, then wait until Sentinel
    names another one and it takes a write; return the fault's name, as every injector
    does (the journal's output is how a game day knows which experiment injected it).
    The seconds from the kill are the `replica_promoted` event's `took_s`."""
    run_dir = run_dir_of(configuration)
    settings = _settings()
    if not settings.redis_sentinel:
        raise StackError(
            "the stack has no Sentinels: start it with `gameday stack up --redis-sentinel`"
        )
    old = stack.ask_redis_primary(settings)
    component = stack.redis_primary_component(settings)
    if old is None or component is None:
        raise StackError(
            "no Sentinel names a Redis primary of this stack: is `gameday stack up "
            "--redis-sentinel` running?"
        )
    tracked = stack.read_tracked(settings.run_dir, component)
    if tracked is None or not tracked.is_alive():
        raise StackError(f"{component} (the Redis primary) is not running")
    killed_at = time.monotonic()
    os.killpg(tracked.pid, signal.SIGKILL)
    run_dir.append_event(
        FaultInjected(
            name=REDIS_FAULTS["redis_primary_killed"].name(),
            target="redis",
            fault="SIGKILL",
            attributes={
                "pid": tracked.pid,
                "component": component,
                "primary": f"{old[0]}:{old[1]}",
            },
        )
    )
    deadline = killed_at + wait_failover_s
    promoted_at: float | None = None
    new: tuple[str, int] | None = None
    while time.monotonic() < deadline:
        # any Sentinel: the service follows the first that names the new primary
        named = next((n for n in stack.named_redis_primaries(settings) if n != old), None)
        if named is not None:
            if promoted_at is None:
                promoted_at = time.monotonic()
            new = named
            if _takes_a_write(settings, named[1]):
                took_s = time.monotonic() - killed_at
                run_dir.append_event(
                    ReplicaPromoted(
                        name="redis-replica-promoted",
                        target="redis",
                        attributes={
                            "took_s": round(took_s, 3),
                            "sentinel_switched_s": round(promoted_at - killed_at, 3),
                            "primary": f"{named[0]}:{named[1]}",
                            "component": stack.redis_primary_component(settings),
                        },
                    )
                )
                return REDIS_FAULTS["redis_primary_killed"].name()
        time.sleep(POLL_S)
    where = "Sentinel still names the killed primary" if new is None else f"{new} took no write"
    raise StackError(f"no Redis failover within {wait_failover_s:.0f}s ({where})")


def _replica_linked(settings: StackSettings, component: str) -> bool:
    port = stack.redis_proxy_port_of(settings, component)
    client = _client(settings, port)
    try:
        info = client.info("replication")
    except redis.RedisError:
        return False
    finally:
        client.close()
    return info.get("role") == "slave" and info.get("master_link_status") == "up"


def restart_redis(configuration: Configuration | None = None) -> list[str]:
    """Start the Redis servers that are down (idempotent); each rejoins as a replica of
    the primary Sentinel names. Waits (bounded) until it replicates; ends the
    `redis-primary-killed` fault. Returns the components it started."""
    run_dir = run_dir_of(configuration)
    settings = _settings()
    down = [
        name
        for name in REDIS_SERVERS
        if not ((t := stack.read_tracked(settings.run_dir, name)) and t.is_alive())
    ]
    if down:
        stack.up(settings, lambda line: None, only=down)
        deadline = time.monotonic() + REJOIN_TIMEOUT_S
        while not all(_replica_linked(settings, name) for name in down):
            if time.monotonic() > deadline:
                raise StackError(
                    f"{', '.join(down)} restarted but not replicating after {REJOIN_TIMEOUT_S:.0f}s"
                )
            time.sleep(POLL_S)
        # the rollback after a method that restarted it already records nothing
        run_dir.append_event(
            FaultRemoved(name=REDIS_FAULTS["redis_primary_killed"].name(), target="redis")
        )
    return down


# The fault, declared once (docs/experiments.md's table of faults has its row): it
# lasts from the SIGKILL until restart_redis starts the killed server again.
REDIS_FAULTS: dict[str, FaultRule] = {
    "redis_primary_killed": FaultRule(kill_redis_primary, "redis-primary-killed"),
}
