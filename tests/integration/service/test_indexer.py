"""The indexer: external versions keep the newest, poison goes to the DLQ, replay works."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import aio_pika
import orjson
import pytest
from service_helpers import ServiceUnderTest, eventually, make_document, search_ids


def _event(tenant: str, doc_id: str, version: int, title: str) -> dict[str, Any]:
    now = "2026-01-01T00:00:00+00:00"
    return {
        "op": "index",
        "tenant_id": tenant,
        "id": doc_id,
        "version": version,
        "doc": {
            "id": doc_id,
            "tenant_id": tenant,
            "version": version,
            "title": title,
            "body": "",
            "tags": [],
            "status": "published",
            "subject_id": None,
            "metadata": {},
            "published_at": now,
            "created_at": now,
            "updated_at": now,
        },
    }


def _publish(sut: ServiceUnderTest, payloads: list[dict[str, Any] | bytes]) -> None:
    async def send() -> None:
        connection = await aio_pika.connect(sut.stack.amqp_url, timeout=5)
        try:
            channel = await connection.channel(publisher_confirms=True)
            for payload in payloads:
                body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
                await channel.default_exchange.publish(
                    aio_pika.Message(body=body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                    routing_key=sut.queue,
                )
        finally:
            await connection.close()

    asyncio.run(send())


def _indexed(sut: ServiceUnderTest, tenant: str, doc_id: str) -> dict[str, Any] | None:
    with sut.opensearch() as client:
        found = client.get(index=sut.alias, id=doc_id, routing=tenant, ignore=[404])
    return found if found.get("found") else None


def test_an_older_version_never_overwrites_a_newer_one(
    service_under_test: ServiceUnderTest, new_tenant: Callable[[], str]
) -> None:
    sut, tenant = service_under_test, new_tenant()
    doc_id, marker_id = str(uuid.uuid4()), str(uuid.uuid4())
    _publish(sut, [_event(tenant, doc_id, 5, "version five"), _event(tenant, doc_id, 4, "four")])
    eventually(lambda: _indexed(sut, tenant, doc_id))
    # Later, and in a separate batch, an even older one arrives; then a marker behind it.
    _publish(sut, [_event(tenant, doc_id, 2, "version two")])
    _publish(sut, [_event(tenant, marker_id, 1, "marker")])
    eventually(lambda: _indexed(sut, tenant, marker_id))
    stored = _indexed(sut, tenant, doc_id)
    assert stored is not None
    assert stored["_version"] == 5
    assert stored["_source"]["title"] == "version five"


def test_a_newer_version_replaces_an_older_one(
    service_under_test: ServiceUnderTest, new_tenant: Callable[[], str]
) -> None:
    sut, tenant = service_under_test, new_tenant()
    doc_id = str(uuid.uuid4())
    _publish(sut, [_event(tenant, doc_id, 1, "first")])
    eventually(lambda: _indexed(sut, tenant, doc_id))
    _publish(sut, [_event(tenant, doc_id, 2, "second")])
    eventually(lambda: (_indexed(sut, tenant, doc_id) or {}).get("_version") == 2)


@pytest.fixture
def writes_blocked(service_under_test: ServiceUnderTest) -> Iterator[Callable[[], None]]:
    """Blocks writes to the test index (a fault OpenSearch returns per item); unblocks after."""
    index = f"{service_under_test.alias}-v1"
    client = service_under_test.opensearch()
    client.indices.put_settings(index=index, body={"index.blocks.write": True})

    def unblock() -> None:
        client.indices.put_settings(index=index, body={"index.blocks.write": None})

    try:
        yield unblock
    finally:
        unblock()
        client.close()


def test_a_failing_message_lands_in_the_dlq_and_replay_indexes_it_once_fixed(
    service_under_test: ServiceUnderTest,
    new_tenant: Callable[[], str],
    writes_blocked: Callable[[], None],
) -> None:
    sut, tenant = service_under_test, new_tenant()
    with sut.client(tenant, role="admin") as client:
        doc_id = client.post("/v1/documents", json=make_document(title="Stranded manatee")).json()[
            "id"
        ]

        def dead_letters() -> list[dict[str, Any]]:
            return list(client.get("/v1/admin/dlq").json()["messages"])

        (dead,) = eventually(dead_letters, timeout_s=30)
        assert dead["id"] == doc_id
        assert dead["attempts"] == 3  # SERVICE_INDEXER_MAX_ATTEMPTS in the fixture
        assert "block" in dead["error"]
        assert len(dead_letters()) == 1  # browsing does not consume
        writes_blocked()  # the fix
        assert client.post("/v1/admin/dlq/replay").json() == {"replayed": 1}
        eventually(lambda: doc_id in search_ids(client, q="manatee"))
        assert dead_letters() == []


def test_an_invalid_event_is_dead_lettered_without_retries(
    service_under_test: ServiceUnderTest, new_tenant: Callable[[], str]
) -> None:
    sut, tenant = service_under_test, new_tenant()
    _publish(sut, [{"op": "explode", "tenant_id": tenant, "id": "x", "version": 1}])
    with sut.client(tenant, role="admin") as client:
        (dead,) = eventually(lambda: client.get("/v1/admin/dlq").json()["messages"])
        assert dead["attempts"] == 1 and "unknown op" in dead["error"]
        other = client.get("/v1/admin/dlq").json()
        assert all(m["tenant_id"] == tenant for m in other["messages"])
