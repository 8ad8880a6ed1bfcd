"""Right to erasure: the subject's documents leave PostgreSQL, OpenSearch and the cache."""

from __future__ import annotations

from collections.abc import Callable

from service_helpers import ServiceUnderTest, eventually, make_document, search_ids


def test_erasure_removes_the_subject_everywhere_including_cached_results(
    service_under_test: ServiceUnderTest, new_tenant: Callable[[], str]
) -> None:
    sut, tenant = service_under_test, new_tenant()
    with sut.client(tenant, role="admin") as client:
        # One request (one message, one indexer batch): its cache invalidations are countable.
        documents = [make_document(title=f"Okapi notes {i}", subject_id="alice") for i in range(3)]
        documents.append(make_document(title="Okapi diary", subject_id="bob"))
        created = client.post("/v1/documents/_bulk", json={"documents": documents})
        assert created.status_code == 202, created.text
        *alice, bob = [item["id"] for item in created.json()["items"]]
        eventually(lambda: search_ids(client, q="okapi") == {*alice, bob})
        sut.wait_for_invalidations(tenant, writes=1)  # so the next answer stays cached
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
        # The erasure's delete events go through the outbox and the indexer: once it has
        # indexed them and made its last invalidation, nothing may have come back.
        sut.wait_for_invalidations(tenant, writes=2)
        assert search_ids(client, q="okapi") == {bob}
        again = client.delete(f"/v1/tenants/{tenant}/subjects/alice").json()
        assert again["postgres_deleted"] == 0 and again["opensearch_deleted"] == 0
