"""The transactional outbox: writes acknowledged while the broker is unreachable are
not lost; they are published and indexed once it is back."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from service_helpers import ServiceUnderTest, eventually, make_document, metric, wait_for


def _relay_attempts(sut: ServiceUnderTest) -> float:
    """Publishes the outbox relay tried, whatever their outcome (the relay makes the
    service's only RabbitMQ calls, and only with rows to send)."""
    return metric(sut.url, "service_dependency_call_duration_seconds_count", dependency="rabbitmq")


def test_writes_acknowledged_during_a_broker_outage_are_indexed_after_it(
    service_under_test: ServiceUnderTest, new_tenant: Callable[[], str]
) -> None:
    sut = service_under_test
    tag = f"outage-{uuid.uuid4().hex[:8]}"
    with sut.client(new_tenant()) as client:

        def searchable() -> int:
            return int(client.get("/v1/search", params={"tags": tag}).json()["total"])

        sut.set_broker_reachable(False)
        try:
            accepted = [
                client.post("/v1/documents", json=make_document(tags=[tag])) for _ in range(10)
            ]
            bulk = client.post(
                "/v1/documents/_bulk",
                json={"documents": [make_document(tags=[tag]) for _ in range(50)]},
            )
            assert all(r.status_code == 202 for r in accepted)
            assert bulk.status_code == 202
            # The relay's passes run one after another: the second attempt from now on is
            # a pass that started after every write above, with all 11 messages to send.
            attempts = _relay_attempts(sut)
            wait_for(
                lambda: _relay_attempts(sut) >= attempts + 2,
                timeout_s=30,
                what="two publishes tried by the outbox relay after the writes",
            )
            assert searchable() == 0  # nothing could reach the indexer
            assert client.get(f"/v1/documents/{accepted[0].json()['id']}").status_code == 200
        finally:
            sut.set_broker_reachable(True)
        eventually(lambda: searchable() == 60, timeout_s=60)


def test_the_naive_design_loses_writes_acknowledged_during_a_broker_outage(
    naive_service: ServiceUnderTest, new_tenant: Callable[[], str]
) -> None:
    sut = naive_service
    tag = f"naive-{uuid.uuid4().hex[:8]}"
    with sut.client(new_tenant()) as client:
        sut.set_broker_reachable(False)
        try:
            lost = [client.post("/v1/documents", json=make_document(tags=[tag])) for _ in range(5)]
            assert all(r.status_code == 202 for r in lost)  # acknowledged all the same
        finally:
            sut.set_broker_reachable(True)

        def a_new_write_is_searchable() -> bool:
            """A new marker each poll until one is found: the naive publisher loses those
            written before it has reconnected, as it lost the writes above."""
            if client.get("/v1/search", params={"tags": f"{tag}-after"}).json()["total"] > 0:
                return True
            marker = client.post("/v1/documents", json=make_document(tags=[f"{tag}-after"]))
            assert marker.status_code == 202, marker.text
            return False

        eventually(a_new_write_is_searchable, timeout_s=60, every_s=0.5)  # the pipeline works
        assert client.get("/v1/search", params={"tags": tag}).json()["total"] == 0
        for response in lost:  # stored, but never published: this is what the outbox fixes
            assert client.get(f"/v1/documents/{response.json()['id']}").status_code == 200
