"""Right to erasure: the subject's documents leave PostgreSQL, OpenSearch and the cache."""

from __future__ import annotations

import time
from collections.abc import Callable

from service_helpers import ServiceUnderTest, eventually, make_document, search_ids


def test_erasure_removes_the_subject_everywhere_including_cached_results(
    service_under_test: ServiceUnderTest, new_tenant: Callable[[], str]
) -> None:
    tenant = new_tenant()
    with service_under_test.client(tenant, role="admin") as client:
        alice = [
            client.post(
                "/v1/documents", json=make_document(title=f"Okapi notes {i}", subject_id="alice")
            ).json()["id"]
            for i in range(3)
        ]
        bob = client.post(
            "/v1/documents", json=make_document(title="Okapi diary", subject_id="bob")
        ).json()["id"]
        eventually(lambda: search_ids(client, q="okapi") == {*alice, bob})
        time.sleep(1.0)  # past the indexer's delayed invalidation, so the answer stays cached
        client.get("/v1/search", params={"q": "okapi"})
        assert client.get("/v1/search", params={"q": "okapi"}).json()["source"] == "cache"

        report = client.delete(f"/v1/tenants/{tenant}/subjects/alice")
        assert report.status_code == 200, report.text
        assert report.json()["postgres_deleted"] == 3
        assert report.json()["opensearch_deleted"] == 3

        after = client.get("/v1/search", params={"q": "okapi"}).json()
        assert after["source"] == "engine"
        assert {h["id"] for h in after["hits"]} == {bob}
        for doc_id in alice:
            assert client.get(f"/v1/documents/{doc_id}").status_code == 404
        time.sleep(1.0)  # the delete events through the outbox must not bring anything back
        assert search_ids(client, q="okapi") == {bob}
        again = client.delete(f"/v1/tenants/{tenant}/subjects/alice").json()
        assert again["postgres_deleted"] == 0 and again["opensearch_deleted"] == 0
