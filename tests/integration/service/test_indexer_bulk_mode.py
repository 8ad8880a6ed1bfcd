"""The indexer's bulk mode: with a backlog in hand the index refreshes rarely, and the
configured interval comes back when the backlog is drained, or at the next start-up
after a crash. An indexer of its own in a private namespace (no service): the messages
are published before it starts, so that it finds a backlog."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aio_pika
import orjson
import pytest
from opensearchpy import OpenSearch
from service_helpers import stop_processes, wait_for

from gameday.settings import PROJECT_ROOT, StackSettings
from gameday.stack.service_env import service_env
from service.deps.rabbitmq import declare_topology
from service.namespace import drop_namespace, namespace_env
from service.settings import AmqpSettings

REFRESH = "200ms"
MESSAGES, EVENTS_PER_MESSAGE = 10, 50  # a batch is one message; 9 wait behind the first


@dataclass
class Namespace:
    stack: StackSettings
    env: dict[str, str]
    logs: Path

    @property
    def alias(self) -> str:
        return self.env["SERVICE_OPENSEARCH_ALIAS"]

    def opensearch(self) -> OpenSearch:
        return OpenSearch(hosts=self.stack.opensearch_urls, timeout=10)

    def refresh_interval(self) -> str | None:
        with self.opensearch() as client:
            found = client.indices.get_settings(index=self.alias, name="index.refresh_interval")
        [settings] = found.values()
        value = settings["settings"].get("index", {}).get("refresh_interval")
        return str(value) if value is not None else None

    def searchable(self) -> int:
        with self.opensearch() as client:  # 404, 503 until the index and its shard are there
            return int(client.count(index=self.alias, ignore=[404, 503]).get("count", 0))

    def start_indexer(self, log: str) -> subprocess.Popen[bytes]:
        with open(self.logs / log, "wb") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "service.indexer"],
                env=self.env,
                cwd=PROJECT_ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )


@pytest.fixture(scope="module")
def ns(stack: StackSettings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Namespace]:
    name = f"b{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        **service_env(stack),
        **namespace_env(name),
        "SERVICE_POSTGRES_REPLICA_DSNS": "",
        "SERVICE_OPENSEARCH_REFRESH_INTERVAL": REFRESH,
        "SERVICE_INDEXER_BATCH_SIZE": str(EVENTS_PER_MESSAGE),
        "SERVICE_INDEXER_BULK_REFRESH_BACKLOG_EVENTS": str(3 * EVENTS_PER_MESSAGE),
    }
    try:
        yield Namespace(stack, env, tmp_path_factory.mktemp(name))
    finally:
        failures = drop_namespace(stack, env)
    assert not failures, f"could not drop namespace {name}: {failures}"


def _event(tenant: str) -> dict[str, Any]:
    doc_id, now = str(uuid.uuid4()), "2026-01-01T00:00:00+00:00"
    doc = {
        "id": doc_id, "tenant_id": tenant, "version": 1, "title": f"bulk {doc_id}", "body": "",
        "tags": [], "status": "published", "subject_id": None, "metadata": {},
        "published_at": now, "created_at": now, "updated_at": now,
    }  # fmt: skip
    return {"op": "index", "tenant_id": tenant, "id": doc_id, "version": 1, "doc": doc}


def _publish_backlog(ns: Namespace) -> None:
    settings = AmqpSettings(
        url=ns.stack.amqp_url,
        queue=ns.env["SERVICE_AMQP_QUEUE"],
        exchange=ns.env["SERVICE_AMQP_EXCHANGE"],
    )

    async def send() -> None:
        connection = await aio_pika.connect(ns.stack.amqp_url, timeout=5)
        try:
            channel = await connection.channel(publisher_confirms=True)
            await declare_topology(channel, settings)
            for _ in range(MESSAGES):
                events = [_event("tenant-bulk") for _ in range(EVENTS_PER_MESSAGE)]
                await channel.default_exchange.publish(
                    aio_pika.Message(
                        body=orjson.dumps({"events": events}),
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    ),
                    routing_key=settings.queue,
                )
        finally:
            await connection.close()

    asyncio.run(send())


def test_a_backlog_is_indexed_in_bulk_mode_then_the_refresh_interval_is_restored(
    ns: Namespace,
) -> None:
    _publish_backlog(ns)
    indexer = ns.start_indexer("indexer-1.log")
    try:
        total = MESSAGES * EVENTS_PER_MESSAGE
        wait_for(lambda: ns.searchable() == total, timeout_s=30, what=f"{total} searchable")
        log = wait_for(
            lambda: (text := (ns.logs / "indexer-1.log").read_text()) * ("bulk load done" in text),
            timeout_s=10,
            what="the end of bulk mode in the indexer's log",
        )
        assert "bulk load:" in log, log[-2000:]
        assert ns.refresh_interval() == REFRESH
    finally:
        stop_processes(indexer)


def test_the_indexer_restores_the_refresh_interval_a_crash_left_behind(ns: Namespace) -> None:
    with ns.opensearch() as client:  # what an indexer killed in bulk mode leaves
        client.indices.put_settings(index=ns.alias, body={"index": {"refresh_interval": "30s"}})
    assert ns.refresh_interval() == "30s"
    indexer = ns.start_indexer("indexer-2.log")
    try:
        wait_for(
            lambda: ns.refresh_interval() == REFRESH,
            timeout_s=30,
            what=f"the refresh interval back at {REFRESH}",
        )
    finally:
        stop_processes(indexer)
