"""Tenant A never sees tenant B's documents: search, get, autocomplete and the cache,
over generated queries and documents (hypothesis, bounded example counts)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from service_helpers import ServiceUnderTest, eventually

VOCABULARY = ["amber", "basalt", "cobalt", "dune", "ember", "fjord", "glacier", "harbor"]
TAGS = ["red", "green", "blue"]
STATUSES = ["draft", "published", "archived"]


@dataclass
class Corpus:
    tenants: dict[str, httpx.Client]
    ids: dict[str, set[str]]
    titles: dict[str, set[str]]


def _documents(seed: int) -> list[dict[str, Any]]:
    # Both tenants get the same words, so any leak would show up as a match.
    docs = []
    for i in range(40):
        words = [VOCABULARY[(seed + i * k) % len(VOCABULARY)] for k in (1, 3, 5)]
        docs.append(
            {
                "title": " ".join(words).capitalize() + f" {i}",
                "body": " ".join(reversed(words)),
                "tags": [TAGS[i % 3]],
                "status": STATUSES[i % 3],
            }
        )
    return docs


@pytest.fixture(scope="module")
def corpus(service_under_test: ServiceUnderTest) -> Iterator[Corpus]:
    names = [f"iso-a-{uuid.uuid4().hex[:8]}", f"iso-b-{uuid.uuid4().hex[:8]}"]
    clients = {n: service_under_test.client(n) for n in names}
    ids: dict[str, set[str]] = {}
    titles: dict[str, set[str]] = {}
    for n, client in clients.items():
        docs = _documents(seed=7)
        response = client.post("/v1/documents/_bulk", json={"documents": docs})
        assert response.status_code == 202
        ids[n] = {item["id"] for item in response.json()["items"]}
        titles[n] = {d["title"] for d in docs}
    for client in clients.values():
        eventually(lambda c=client: c.get("/v1/search", params={"size": 1}).json()["total"] == 40)
    yield Corpus(tenants=clients, ids=ids, titles=titles)
    for client in clients.values():
        client.close()


_settings = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_settings
@given(
    words=st.lists(st.sampled_from(VOCABULARY), max_size=3),
    tags=st.lists(st.sampled_from(TAGS), max_size=2),
    status=st.none() | st.sampled_from(STATUSES),
    size=st.integers(min_value=1, max_value=100),
    page=st.integers(min_value=1, max_value=3),
    asker=st.integers(min_value=0, max_value=1),
)
def test_search_only_ever_returns_the_callers_documents(
    corpus: Corpus,
    words: list[str],
    tags: list[str],
    status: str | None,
    size: int,
    page: int,
    asker: int,
) -> None:
    names = list(corpus.tenants)
    me, other = names[asker], names[1 - asker]
    params: dict[str, Any] = {"q": " ".join(words), "size": size, "page": page}
    if tags:
        params["tags"] = ",".join(tags)
    if status:
        params["status"] = status
    client = corpus.tenants[me]
    for _ in range(2):  # the second answer may come from the cache: same rule
        response = client.get("/v1/search", params=params)
        assert response.status_code == 200, response.text
        found = {h["id"] for h in response.json()["hits"]}
        assert found <= corpus.ids[me]
        assert not found & corpus.ids[other]
        assert response.json()["total"] <= 40


@_settings
@given(
    prefix=st.sampled_from(VOCABULARY).flatmap(
        lambda w: st.integers(1, len(w)).map(lambda n: w[:n])
    ),
    asker=st.integers(0, 1),
)
def test_autocomplete_only_suggests_the_callers_titles(
    corpus: Corpus, prefix: str, asker: int
) -> None:
    names = list(corpus.tenants)
    me = names[asker]
    response = corpus.tenants[me].get("/v1/autocomplete", params={"prefix": prefix})
    assert response.status_code == 200
    assert set(response.json()["suggestions"]) <= corpus.titles[me]


def test_get_of_every_other_tenant_document_is_404(corpus: Corpus) -> None:
    a, b = list(corpus.tenants)
    for doc_id in list(corpus.ids[b])[:20]:
        assert corpus.tenants[a].get(f"/v1/documents/{doc_id}").status_code == 404
    for doc_id in list(corpus.ids[a])[:20]:
        assert corpus.tenants[b].get(f"/v1/documents/{doc_id}").status_code == 404


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    title=st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=40).filter(
        lambda t: t.strip() != ""
    ),
    tags=st.lists(st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True), max_size=3),
)
def test_documents_written_by_one_tenant_are_invisible_to_another(
    service_under_test: ServiceUnderTest, title: str, tags: list[str]
) -> None:
    owner, stranger = f"w-{uuid.uuid4().hex[:8]}", f"w-{uuid.uuid4().hex[:8]}"
    with service_under_test.client(owner) as a, service_under_test.client(stranger) as b:
        created = a.post("/v1/documents", json={"title": title, "tags": tags})
        assert created.status_code == 202, created.text
        doc_id = created.json()["id"]
        assert a.get(f"/v1/documents/{doc_id}").status_code == 200
        assert b.get(f"/v1/documents/{doc_id}").status_code == 404
        assert b.patch(f"/v1/documents/{doc_id}", json={"title": "mine now"}).status_code == 404
        assert b.delete(f"/v1/documents/{doc_id}").status_code == 404
        assert b.get("/v1/search", params={"q": title[:512]}).json()["hits"] == []
