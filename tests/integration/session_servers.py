"""The session stack's servers reached straight, not through its proxies, for the
private-stack modules (PgBouncer, the replica, Sentinel, the restore drill): their
service and their `gameday` runs use the session's Redis, RabbitMQ, OpenSearch or
PostgreSQL for what the private stack does not run, and `make test` runs them beside
the chaos tests (tests/lanes.py), which break the session's proxies on purpose.

    straight(stack)                  # StackSettings whose proxy ports are the servers' own
    straight_env({**os.environ, "GAMEDAY_POSTGRES_PORT": "27632", ...})
        # + GAMEDAY_REDIS_PROXY_PORT=21379, ... for each server the private stack lacks
"""

from __future__ import annotations

from collections.abc import Mapping

from gameday.settings import StackSettings

# (the server's own port, its proxy's port): the StackSettings fields
SERVERS = (
    ("postgres_port", "postgres_proxy_port"),
    ("redis_port", "redis_proxy_port"),
    ("rabbitmq_port", "rabbitmq_proxy_port"),
    ("opensearch_port", "opensearch_proxy_port"),
)


def straight(stack: StackSettings) -> StackSettings:
    return stack.model_copy(update={proxy: getattr(stack, own) for own, proxy in SERVERS})


def straight_env(env: Mapping[str, str]) -> dict[str, str]:
    """A private stack's environment (its GAMEDAY_* ports among `env`) where each server
    that it does not run (no GAMEDAY_<SERVER>_PORT of its own) is the session's, straight:
    what the harness's probes and write reconciliation connect to."""
    session = StackSettings()  # this process's environment: the session stack's
    out = dict(env)
    for own, proxy in SERVERS:
        if f"GAMEDAY_{own.upper()}" not in env:
            out[f"GAMEDAY_{proxy.upper()}"] = str(getattr(session, own))
    return out
