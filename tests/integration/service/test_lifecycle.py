"""Start-up without the broker, graceful shutdown on SIGTERM, and the queue depth gauges,
each against a service of its own in a private namespace (no indexer: what is published
stays in the queue, where the test reads it)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import signal
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import asyncpg
import httpx
import orjson
import pytest
from opensearchpy import OpenSearch
from private_namespace import Namespace, namespace, start_indexer
from prometheus_client.parser import text_string_to_metric_families
from service_helpers import eventually, make_document, metric, wait_for

from gameday.toxiproxy import Toxic
from service.documents.service import index_event
from service.settings import AuthSettings
from service.tenants.auth import issue_token
from tests.integration.own_service import RunningService, running_service

__all__ = ["namespace"]  # the fixture, imported for the tests below
GRACE_S = 10
DRAIN_S = 5.0
MESSAGES = 60


def _client(url: str, tenant: str) -> httpx.Client:
    token = issue_token(AuthSettings(), tenant=tenant, role="user", ttl_s=600)
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=15)


def _relay_attempts(url: str) -> float:
    """Publishes the outbox relay tried, whatever their outcome (the relay makes the
    service's only RabbitMQ calls, and only with rows to send)."""
    return metric(url, "service_dependency_call_duration_seconds_count", dependency="rabbitmq")


def _gauge(url: str, name: str, **labels: str) -> float | None:
    text = httpx.get(f"{url}/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return None


@pytest.fixture(scope="module")
def started_without_broker(
    namespace: Namespace, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningService]:
    """One service for the two tests below, started while its broker proxy is disabled."""
    ns = namespace
    env = {
        **ns.env,
        "SERVICE_METRICS_QUEUE_DEPTH_INTERVAL_S": "0.3",
        # Multiprocess mode, as the stack runs it (livemostrecent gauges).
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path_factory.mktemp("metrics")),
    }
    with ns.toxiproxy() as toxiproxy:
        toxiproxy.set_enabled(ns.amqp_proxy, False)
    try:
        with running_service(ns.stack, ns.logs, env) as service:
            yield service
    finally:
        with ns.toxiproxy() as toxiproxy:
            toxiproxy.set_enabled(ns.amqp_proxy, True)


def test_the_service_starts_without_the_broker_and_publishes_once_it_is_back(
    namespace: Namespace, started_without_broker: RunningService
) -> None:
    ns, service = namespace, started_without_broker
    with ns.toxiproxy() as toxiproxy:
        toxiproxy.set_enabled(ns.amqp_proxy, False)  # still (or again) away
    ready = httpx.get(f"{service.url}/health/ready", timeout=5)
    body = ready.json()
    assert ready.status_code == 200, body  # reads and writes work: it is ready
    assert body["status"] == "degraded"
    assert body["dependencies"]["rabbitmq"]["status"] == "failed"
    # This write is the only one in the namespace: the relay's next try is at sending it.
    attempts = _relay_attempts(service.url)
    with _client(service.url, f"tenant-{uuid.uuid4().hex[:8]}") as client:
        accepted = client.post("/v1/documents", json=make_document())
    assert accepted.status_code == 202, accepted.text
    wait_for(
        lambda: _relay_attempts(service.url) > attempts,
        timeout_s=30,
        what="a publish tried by the outbox relay after the write",
    )
    assert ns.outbox_rows() >= 1  # kept until the broker confirms it
    with ns.toxiproxy() as toxiproxy:
        toxiproxy.set_enabled(ns.amqp_proxy, True)
    eventually(lambda: ns.outbox_rows() == 0, timeout_s=30)
    bodies = b"".join(m["body"] for m in ns.queue_messages())
    assert accepted.json()["id"].encode() in bodies


def test_queue_and_dead_letter_depths_are_gauges_on_metrics(
    namespace: Namespace, started_without_broker: RunningService
) -> None:
    ns, service = namespace, started_without_broker
    with ns.toxiproxy() as toxiproxy:
        toxiproxy.set_enabled(ns.amqp_proxy, True)
    dlq = f"{ns.env['SERVICE_AMQP_QUEUE']}.dlq"
    with _client(service.url, f"tenant-{uuid.uuid4().hex[:8]}") as client:
        assert client.post("/v1/documents", json=make_document()).status_code == 202
    eventually(lambda: ns.outbox_rows() == 0, timeout_s=30)  # topology exists now
    ns.queue_messages()  # empty both queues: the gauges must reach exactly what we add
    ns.queue_messages(dlq)
    eventually(lambda: _gauge(service.url, "service_queue_depth", queue="dlq") == 0)
    for _ in range(3):
        ns.publish_to(dlq, b'{"op": "index"}')
    ns.publish_to(ns.env["SERVICE_AMQP_QUEUE"], b'{"op": "index"}')
    # Both are read in one poll, every 5 s: one poll may fall between the publishes.
    eventually(
        lambda: (
            _gauge(service.url, "service_queue_depth", queue="dlq") == 3
            and _gauge(service.url, "service_queue_depth", queue="index") == 1
        )
    )
    ns.queue_messages()
    ns.queue_messages(dlq)


def _wait_for_a_write_in_flight(ns: Namespace, timeout_s: float = 10.0) -> None:
    """Until a transaction holds a write lock on the namespace's documents table: a
    document write is inside the service, between its INSERT and its COMMIT."""
    sql = (
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 "
        "AND c.relname = 'documents' AND l.mode = 'RowExclusiveLock' AND l.granted"
    )

    async def poll() -> None:
        conn = await asyncpg.connect(ns.stack.postgres_dsn, timeout=5)
        try:
            deadline = time.monotonic() + timeout_s
            while not await conn.fetchval(sql, ns.env["SERVICE_POSTGRES_SCHEMA"]):
                if time.monotonic() > deadline:
                    raise AssertionError(f"no document write in flight within {timeout_s}s")
                await asyncio.sleep(0.02)
        finally:
            await conn.close()

    asyncio.run(poll())


def _refuses_connections(url: str) -> bool:
    try:
        httpx.get(f"{url}/health/live", timeout=2)
    except httpx.ConnectError:
        return True
    return False


def test_sigterm_lets_the_request_in_flight_finish_refuses_new_ones_and_exits_zero(
    namespace: Namespace,
) -> None:
    ns = namespace
    env = {
        **ns.env,
        "SERVICE_SHUTDOWN_GRACE_S": str(GRACE_S),
        "SERVICE_SHUTDOWN_DRAIN_S": str(DRAIN_S),
        # Connections opened before the latency: a new one would take longer than the
        # acquire timeout through the slow proxy.
        "SERVICE_POSTGRES_POOL_MIN": "3",
        "SERVICE_POSTGRES_ACQUIRE_TIMEOUT_S": "5",
        "SERVICE_POSTGRES_STATEMENT_TIMEOUT_S": "5",  # a cold statement: several round trips
    }
    with running_service(ns.stack, ns.logs, env) as service:
        with _client(service.url, f"tenant-{uuid.uuid4().hex[:8]}") as client:
            assert client.post("/v1/documents", json=make_document()).status_code == 202
            eventually(lambda: ns.outbox_rows() == 0, timeout_s=20)
            ns.queue_messages()
            # Each PostgreSQL round trip now takes 150 ms: a write takes a second or so.
            with ns.toxiproxy() as toxiproxy:
                toxiproxy.add_toxic(
                    ns.postgres_proxy,
                    Toxic(name="slow", type="latency", attributes={"latency": 150}),
                )
            try:
                with concurrent.futures.ThreadPoolExecutor(1) as pool:
                    started = time.monotonic()
                    slow = pool.submit(client.post, "/v1/documents", json=make_document())
                    _wait_for_a_write_in_flight(ns)
                    assert not slow.done()
                    service.process.send_signal(signal.SIGTERM)
                    wait_for(
                        lambda: _refuses_connections(service.url),
                        timeout_s=5,
                        what="the service refusing new connections after SIGTERM",
                    )
                    response = slow.result(timeout=GRACE_S + 5)
                    assert response.status_code == 202, response.text
                    exit_code = service.process.wait(timeout=GRACE_S + DRAIN_S + 5)
                    assert time.monotonic() - started > 1.0  # it did wait for the request
            finally:
                with ns.toxiproxy() as toxiproxy:
                    toxiproxy.remove_toxic(ns.postgres_proxy, "slow")
    assert exit_code == 0
    assert ns.outbox_rows() == 0  # the accepted write was published before the exit
    bodies = b"".join(m["body"] for m in ns.queue_messages())
    assert response.json()["id"].encode() in bodies


def test_the_indexer_stops_on_sigterm_with_every_message_indexed_once_or_requeued(
    namespace: Namespace,
) -> None:
    ns = namespace
    tenant = f"tenant-{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    ids = [str(uuid.uuid4()) for _ in range(MESSAGES)]
    row = {"version": 1, "title": "t", "body": "b", "tags": ["stop"], "status": "published"}
    row |= {"subject_id": None, "metadata": {}, "published_at": now, "created_at": now}
    # One message per batch: the indexer is mid-stream when the signal comes.
    env = {**ns.env, "SERVICE_INDEXER_PREFETCH": "1", "SERVICE_INDEXER_CONCURRENCY": "1"}
    log_path = ns.logs / "stopping-indexer.log"
    indexer = start_indexer(ns, env, log_path)
    eventually(lambda: ns.consumers() >= 1, timeout_s=60)  # it declared the topology
    ns.queue_messages()  # what earlier tests left
    for doc_id in ids:
        event = index_event(tenant, {**row, "id": doc_id, "updated_at": now})
        ns.publish_to(ns.env["SERVICE_AMQP_QUEUE"], orjson.dumps({"events": [event]}))
    search = OpenSearch(hosts=ns.stack.opensearch_urls, timeout=15)
    alias = ns.env["SERVICE_OPENSEARCH_ALIAS"]

    def indexed() -> set[str]:
        if not search.indices.exists_alias(name=alias):
            return set()
        search.indices.refresh(index=alias)
        hits = search.search(index=alias, body={"size": MESSAGES, "query": {"match_all": {}}})
        return {hit["_id"] for hit in hits["hits"]["hits"] if hit["_id"] in ids}

    try:
        eventually(indexed, timeout_s=30, every_s=0.1)
        indexer.send_signal(signal.SIGTERM)
        assert indexer.wait(timeout=20) == 0
    finally:
        if indexer.poll() is None:
            indexer.kill()
    done = indexed()
    queued = {
        event["id"]
        for message in ns.queue_messages()
        for event in orjson.loads(message["body"])["events"]
    }
    assert done | queued == set(ids), log_path.read_text()[-2000:]  # nothing lost
    assert not done & queued  # nothing indexed but left unacked: the batch in hand finished
