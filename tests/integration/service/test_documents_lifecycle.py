"""Create, update and delete reach search through the outbox, the queue and the indexer."""

from __future__ import annotations

from collections.abc import Callable

from service_helpers import ServiceUnderTest, eventually, make_document, search_ids


def test_a_created_document_becomes_searchable(
    service_under_test: ServiceUnderTest, new_tenant: Callable[[], str]
) -> None:
    with service_under_test.client(new_tenant()) as client:
        response = client.post("/v1/documents", json=make_document(title="Zanzibar harbour"))
        assert response.status_code == 202
        accepted = response.json()
        assert accepted["version"] == 1 and accepted["indexed"] is False
        eventually(lambda: accepted["id"] in search_ids(client, q="zanzibar"))
        fetched = client.get(f"/v1/documents/{accepted['id']}").json()
        assert fetched["title"] == "Zanzibar harbour" and fetched["version"] == 1


def test_an_update_replaces_the_document_in_search(
    service_under_test: ServiceUnderTest, new_tenant: Callable[[], str]
) -> None:
    with service_under_test.client(new_tenant()) as client:
        doc_id = client.post("/v1/documents", json=make_document(title="Original kestrel")).json()[
            "id"
        ]
        eventually(lambda: doc_id in search_ids(client, q="kestrel"))
        patched = client.patch(f"/v1/documents/{doc_id}", json={"title": "Renamed osprey"})
        assert patched.status_code == 202 and patched.json()["version"] == 2
        eventually(lambda: doc_id in search_ids(client, q="osprey"))
        assert doc_id not in search_ids(client, q="kestrel")
        replaced = client.put(f"/v1/documents/{doc_id}", json=make_document(title="Third heron"))
        assert replaced.json()["version"] == 3
        eventually(lambda: doc_id in search_ids(client, q="heron"))


def test_a_deleted_document_leaves_search_and_get(
    service_under_test: ServiceUnderTest, new_tenant: Callable[[], str]
) -> None:
    with service_under_test.client(new_tenant()) as client:
        doc_id = client.post("/v1/documents", json=make_document(title="Ephemeral lynx")).json()[
            "id"
        ]
        eventually(lambda: doc_id in search_ids(client, q="lynx"))
        deleted = client.delete(f"/v1/documents/{doc_id}")
        assert deleted.status_code == 202 and deleted.json()["version"] == 2
        assert client.get(f"/v1/documents/{doc_id}").status_code == 404
        eventually(lambda: doc_id not in search_ids(client, q="lynx"))


def test_bulk_creates_every_document_and_all_become_searchable(
    service_under_test: ServiceUnderTest, new_tenant: Callable[[], str]
) -> None:
    docs = [make_document(title=f"bulk walrus {i}", tags=["bulk"]) for i in range(200)]
    with service_under_test.client(new_tenant()) as client:
        response = client.post("/v1/documents/_bulk", json={"documents": docs})
        assert response.status_code == 202
        assert response.json()["count"] == 200
        eventually(lambda: client.get("/v1/search", params={"tags": "bulk"}).json()["total"] == 200)


def test_search_filters_highlights_and_selects_fields(
    service_under_test: ServiceUnderTest, new_tenant: Callable[[], str]
) -> None:
    with service_under_test.client(new_tenant()) as client:
        client.post("/v1/documents", json=make_document(title="Amber falcon", tags=["birds"]))
        client.post(
            "/v1/documents",
            json=make_document(title="Amber draft", body="falcon", status="draft", tags=["x"]),
        )
        eventually(lambda: client.get("/v1/search", params={"q": "falcon"}).json()["total"] == 2)
        result = client.get(
            "/v1/search",
            params={"q": "falcon", "status": "published", "fields": "title", "highlight": "true"},
        ).json()
        assert result["total"] == 1
        (hit,) = result["hits"]
        assert set(hit["source"]) == {"title"}
        assert hit["highlight"]["title"] == ["Amber <em>falcon</em>"]
        both = client.get("/v1/search", params={"q": "falcon amber"}).json()["hits"]
        assert both[0]["source"]["title"] == "Amber falcon"  # title matches outrank body ones
        tagged = client.get("/v1/search", params={"tags": "birds"}).json()
        assert [h["source"]["title"] for h in tagged["hits"]] == ["Amber falcon"]


def test_autocomplete_suggests_titles_by_prefix_and_caps_at_ten(
    service_under_test: ServiceUnderTest, new_tenant: Callable[[], str]
) -> None:
    docs = [make_document(title=f"Quokka island {i}") for i in range(12)]
    with service_under_test.client(new_tenant()) as client:
        client.post("/v1/documents/_bulk", json={"documents": docs})
        eventually(lambda: client.get("/v1/search", params={"q": "quokka"}).json()["total"] == 12)
        suggestions = client.get("/v1/autocomplete", params={"prefix": "quok"}).json()[
            "suggestions"
        ]
        assert len(suggestions) == 10
        assert all(s.startswith("Quokka island") for s in suggestions)
        assert client.get("/v1/autocomplete", params={"prefix": "quokka isl"}).json()["suggestions"]
