"""Tenant isolation under generated traffic: hypothesis drives sequences of writes,
updates, deletes, reads, searches and autocompletes for three tenants that share one
vocabulary. Every document carries its tenant's marker word, so a leak shows up as
another tenant's marker anywhere in a response body, whatever the field."""

from __future__ import annotations

import uuid

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule
from service_helpers import ServiceUnderTest

VOCABULARY = ["amber", "basalt", "cobalt", "dune", "ember", "fjord"]
TENANTS = 3
words = st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=3).map(" ".join)
tenant_index = st.integers(0, TENANTS - 1)


class TenantTraffic(RuleBasedStateMachine):
    """One run = fresh tenants and markers; `documents` holds (owner index, id)."""

    sut: ServiceUnderTest  # set by the test below
    documents = Bundle("documents")

    def __init__(self) -> None:
        super().__init__()
        run = uuid.uuid4().hex[:6]
        self.markers = [f"mk{run}x{i}" for i in range(TENANTS)]
        self.clients = [self.sut.client(f"seq-{run}-{i}") for i in range(TENANTS)]
        self.last: list[tuple[int, httpx.Response]] = []

    def _check(self, me: int, response: httpx.Response) -> None:
        assert response.status_code < 500, response.text
        self.last.append((me, response))

    @invariant()
    def no_response_carries_another_tenants_marker(self) -> None:
        for me, response in self.last:
            foreign = [m for i, m in enumerate(self.markers) if i != me and m in response.text]
            assert not foreign, f"tenant {me} saw {foreign}: {response.text[:300]}"
        self.last.clear()

    @rule(target=documents, me=tenant_index, text=words)
    def write(self, me: int, text: str) -> tuple[int, str]:
        body = {"title": f"{text} {self.markers[me]}", "body": f"{self.markers[me]} {text}"}
        response = self.clients[me].post("/v1/documents", json=body)
        assert response.status_code == 202, response.text
        return me, response.json()["id"]

    @rule(doc=documents, me=tenant_index, text=words)
    def update(self, doc: tuple[int, str], me: int, text: str) -> None:
        owner, doc_id = doc
        body = {"title": f"{text} {self.markers[me]}"}
        response = self.clients[me].patch(f"/v1/documents/{doc_id}", json=body)
        self._check(me, response)
        if owner != me:
            assert response.status_code == 404, response.text

    @rule(doc=documents, me=tenant_index)
    def get(self, doc: tuple[int, str], me: int) -> None:
        owner, doc_id = doc
        response = self.clients[me].get(f"/v1/documents/{doc_id}")
        self._check(me, response)
        if owner != me:
            assert response.status_code == 404, response.text

    @rule(doc=documents, me=tenant_index)
    def delete(self, doc: tuple[int, str], me: int) -> None:
        owner, doc_id = doc
        response = self.clients[me].delete(f"/v1/documents/{doc_id}")
        self._check(me, response)
        if owner != me:
            assert response.status_code == 404, response.text

    @rule(me=tenant_index, text=words)
    def search(self, me: int, text: str) -> None:
        self._check(me, self.clients[me].get("/v1/search", params={"q": text, "size": 50}))

    @rule(me=tenant_index, other=tenant_index)
    def search_for_a_marker(self, me: int, other: int) -> None:
        # Asking for another tenant's marker by name must find nothing.
        response = self.clients[me].get("/v1/search", params={"q": self.markers[other]})
        self._check(me, response)
        if other != me:
            assert response.json()["hits"] == [], response.text

    @rule(me=tenant_index, word=st.sampled_from(VOCABULARY))
    def autocomplete(self, me: int, word: str) -> None:
        self._check(me, self.clients[me].get("/v1/autocomplete", params={"prefix": word[:3]}))

    def teardown(self) -> None:
        for client in self.clients:
            client.close()


@pytest.mark.timeout(300)
def test_generated_sequences_never_leak_across_tenants(
    service_under_test: ServiceUnderTest,
) -> None:
    TenantTraffic.sut = service_under_test
    machine = TenantTraffic.TestCase
    machine.settings = settings(
        max_examples=6,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    machine().runTest()
