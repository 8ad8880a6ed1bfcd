"""The stack's components, in start order. Later parts (the service, the
indexer) register here with `after_proxies = True` so they start once every
proxy exists; the PostgreSQL replica has `after_infra = True` (it copies the
running primary) and is built only when `settings.pg_replica` is set."""

from __future__ import annotations

from gameday.settings import StackSettings
from gameday.stack.component import Component
from gameday.stack.indexer import Indexer
from gameday.stack.opensearch import OpenSearch
from gameday.stack.postgres import Postgres
from gameday.stack.postgres_replica import PostgresReplica
from gameday.stack.prometheus import Prometheus
from gameday.stack.rabbitmq import RabbitMQ
from gameday.stack.redis import Redis
from gameday.stack.service import Service
from gameday.stack.toxiproxy import Toxiproxy

COMPONENTS: list[type[Component]] = [
    Toxiproxy, Postgres, PostgresReplica, Redis, RabbitMQ, OpenSearch, Prometheus, Service, Indexer
]  # fmt: skip

NAMES = [c.name for c in COMPONENTS]
# The harness's one list of the target's dependencies (the service keeps its own in
# service/deps/guards.py, since it never imports the harness; a test keeps them equal).
DEPENDENCIES = [c.name for c in COMPONENTS if c.dependency]


def build_components(settings: StackSettings, only: list[str] | None = None) -> list[Component]:
    return [
        c(settings)
        for c in COMPONENTS
        if (only is None or c.name in only) and (c is not PostgresReplica or settings.pg_replica)
    ]
