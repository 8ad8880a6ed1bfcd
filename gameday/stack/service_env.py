"""The environment the stack gives the reference service and its indexer: the
``SERVICE_*`` variables that point them at the stack's proxies. A contract with a
subprocess, not an import: the service reads these (service/settings.py), the harness
never imports it.

    env = service_env(StackSettings())   # {"SERVICE_POSTGRES_DSN": "postgresql://...", ...}
"""

from __future__ import annotations

from gameday.settings import StackSettings
from gameday.stack.redis_sentinel import SENTINEL_MASTER, sentinel_proxy_ports

# The game days' abusive tenant (the reference scenarios' Abuser sends as it;
# gameday.load.config.NOISY_TENANT, service/gameday_hooks.py NOISY_TENANT): the stack
# gives it a small quota, so that a few dozen rps put it far over; every other tenant
# keeps the defaults. tests/unit/stack/test_service_env.py keeps the three names equal.
NOISY_TENANT = "tenant-noisy"
NOISY_TENANT_QUOTA = (2, 4)  # rate_rps, burst


def service_env(stack: StackSettings) -> dict[str, str]:
    """The ``SERVICE_*`` variables that point the service and indexer at the stack's proxies."""
    rate_rps, burst = NOISY_TENANT_QUOTA
    env = {
        **postgres_env(stack),
        "SERVICE_POSTGRES_REPLICA_DSNS": stack.postgres_replica_dsn or "",
        "SERVICE_REDIS_URL": stack.redis_url,
        "SERVICE_AMQP_URL": stack.amqp_url,
        # every broker's proxy (`--rabbitmq-nodes 3`): the relay and indexer use any live
        # one; empty on a single node, where SERVICE_AMQP_URL (which tests may point at a
        # proxy of their own) is the broker
        "SERVICE_AMQP_URLS": ",".join(stack.amqp_urls) if stack.rabbitmq_nodes > 1 else "",
        # a cluster's queues are quorum queues; the single node keeps its classic ones
        # (a queue's type is fixed when it is first declared)
        "SERVICE_AMQP_QUEUE_TYPE": "quorum" if stack.rabbitmq_nodes > 1 else "classic",
        "SERVICE_OPENSEARCH_HOSTS": ",".join(stack.opensearch_urls),
        "SERVICE_OPENSEARCH_REPLICAS": str(min(1, stack.search_nodes - 1)),
        "SERVICE_RATELIMIT_TENANT_OVERRIDES": f'{{"{NOISY_TENANT}": [{rate_rps}, {burst}]}}',
    }
    if stack.redis_sentinel:  # the primary is whichever Redis the Sentinels name
        env |= {
            "SERVICE_REDIS_SENTINELS": ",".join(
                f"{stack.host}:{port}" for port in sentinel_proxy_ports(stack)
            ),
            "SERVICE_REDIS_SENTINEL_MASTER": SENTINEL_MASTER,
        }
    return env


def postgres_env(stack: StackSettings) -> dict[str, str]:
    """PostgreSQL straight through its proxy; with `--pgbouncer`, the pool through
    PgBouncer's proxy in transaction pooling mode and the session work (migrations,
    retention's lock) on the direct DSN."""
    if not stack.pgbouncer:
        return {"SERVICE_POSTGRES_DSN": stack.postgres_dsn}
    pooled = (
        f"postgresql://{stack.db_user}:{stack.db_password}@{stack.host}:"
        f"{stack.pgbouncer_proxy_port}/{stack.db_name}"
    )
    return {
        "SERVICE_POSTGRES_DSN": pooled,
        "SERVICE_POSTGRES_MIGRATION_DSN": stack.postgres_dsn,
        "SERVICE_POSTGRES_TRANSACTION_POOLING": "1",
    }
