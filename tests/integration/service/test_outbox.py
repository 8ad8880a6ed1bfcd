"""The transactional outbox: writes acknowledged while the broker is unreachable are
not lost; they are published and indexed once it is back."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from service_helpers import ServiceUnderTest, eventually, make_document


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
            time.sleep(2.0)
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
            marker = client.post("/v1/documents", json=make_document(tags=[f"{tag}-after"]))
            time.sleep(1.0)
            found = client.get("/v1/search", params={"tags": f"{tag}-after"}).json()["total"]
            return marker.status_code == 202 and found > 0

        eventually(a_new_write_is_searchable, timeout_s=60, every_s=0.5)  # the pipeline works
        assert client.get("/v1/search", params={"tags": tag}).json()["total"] == 0
        for response in lost:  # stored, but never published: this is what the outbox fixes
            assert client.get(f"/v1/documents/{response.json()['id']}").status_code == 200
