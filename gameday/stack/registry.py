"""The stack's components, in start order. Later parts (the service, the
indexer) register here with `after_proxies = True` so they start once every
proxy exists; the PostgreSQL replica has `after_infra = True` (it copies the
running primary) and is built only when `settings.pg_replica` is set (its
`enabled_by`)."""

from __future__ import annotations

from gameday.settings import StackSettings
from gameday.stack.component import Component
from gameday.stack.indexer import Indexer
from gameday.stack.opensearch import OpenSearch
from gameday.stack.pgbouncer import Pgbouncer
from gameday.stack.postgres import Postgres
from gameday.stack.postgres_replica import PostgresReplica
from gameday.stack.prometheus import Prometheus
from gameday.stack.rabbitmq import RabbitMQ
from gameday.stack.redis import Redis
from gameday.stack.redis_sentinel import SENTINEL_COMPONENTS, RedisReplica
from gameday.stack.service import Service
from gameday.stack.toxiproxy import Toxiproxy

COMPONENTS: list[type[Component]] = [
    Toxiproxy, Postgres, PostgresReplica, Pgbouncer, Redis, RedisReplica, RabbitMQ, OpenSearch,
    Prometheus, *SENTINEL_COMPONENTS, Service, Indexer
]  # fmt: skip

# Class names and instance names: `opensearch` (the whole cluster in `--only`) and its
# nodes `opensearch-1`, ... (each a process of its own, with its own pid file).
NAMES = [name for c in COMPONENTS for name in c.all_names()]
# The data tier's opt-in parts (issue 18): `stack up --redis-sentinel|--pgbouncer|
# --wal-archive`, each a StackSettings flag recorded in stack.json; a component with
# `enabled_by = "<flag>"` is built only when that flag is set.
OPT_IN_FLAGS = ("redis_sentinel", "pgbouncer", "wal_archive")
# The harness's one list of the target's dependencies (the service keeps its own in
# service/deps/guards.py, since it never imports the harness; a test keeps them equal).
DEPENDENCIES = [c.name for c in COMPONENTS if c.dependency]


def build_components(settings: StackSettings, only: list[str] | None = None) -> list[Component]:
    return [
        instance
        for c in COMPONENTS
        if c.enabled_by is None or getattr(settings, c.enabled_by)
        for instance in c.instances(settings)
        if only is None or c.name in only or instance.name in only
    ]
