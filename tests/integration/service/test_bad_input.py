"""Limits and bad input: problem bodies with the field named, never a 500."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from service_helpers import ServiceUnderTest, make_document


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["type"]
    return body


def test_a_body_over_one_mebibyte_gets_413(
    service_under_test: ServiceUnderTest, new_tenant: Callable[[], str]
) -> None:
    with service_under_test.client(new_tenant()) as client:
        doc = make_document(body="x" * (1024 * 1024 + 10))
        body = _problem(client.post("/v1/documents", json=doc), 413)
        assert "1048576" in body["detail"]


def test_a_chunked_body_over_the_limit_gets_413(
    service_under_test: ServiceUnderTest, new_tenant: Callable[[], str]
) -> None:
    def chunks() -> Any:
        for _ in range(20):
            yield b"x" * 65536

    with service_under_test.client(new_tenant()) as client:
        response = client.post(
            "/v1/documents", content=chunks(), headers={"content-type": "application/json"}
        )
        _problem(response, 413)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": "a" * 513}, "query.q"),
        ({"size": 101}, "query.size"),
        ({"size": 0}, "query.size"),
        ({"page": 0}, "query.page"),
        ({"page": 200, "size": 100}, "query"),
        ({"fields": "title,password"}, "query.fields"),
        ({"status": "secret"}, "query.status"),
        ({"from_date": "yesterday"}, "query.from_date"),
        ({"unknown": "1"}, "query.unknown"),
    ],
    ids=[
        "long-query",
        "size-too-big",
        "size-zero",
        "page-zero",
        "window",
        "unknown-field",
        "bad-status",
        "bad-date",
        "unknown-param",
    ],
)
def test_bad_search_parameters_get_422_naming_the_field(
    service_under_test: ServiceUnderTest,
    new_tenant: Callable[[], str],
    params: dict[str, Any],
    field: str,
) -> None:
    with service_under_test.client(new_tenant()) as client:
        body = _problem(client.get("/v1/search", params=params), 422)
        assert any(e["field"].startswith(field) for e in body["errors"]), body


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"title": "t", "owner": "me"}, "owner"),
        ({"title": "t", "tenant_id": "other"}, "tenant_id"),
        ({"body": "no title"}, "title"),
        ({"title": ""}, "title"),
        ({"title": "t\x00"}, "title"),
        ({"title": "t", "tags": ["a"] * 33}, "tags"),
        ({"title": "t", "metadata": {"n": 2**70}}, "metadata"),
        ({"title": "t", "published_at": "0001-01-01T00:00:00Z"}, "published_at"),
    ],
    ids=[
        "unknown-field",
        "tenant-in-body",
        "missing-title",
        "empty-title",
        "nul",
        "too-many-tags",
        "huge-int",
        "year-one",
    ],
)
def test_bad_documents_get_422_naming_the_field(
    service_under_test: ServiceUnderTest,
    new_tenant: Callable[[], str],
    doc: dict[str, Any],
    field: str,
) -> None:
    with service_under_test.client(new_tenant()) as client:
        body = _problem(client.post("/v1/documents", json=doc), 422)
        assert field in body["detail"], body


def test_a_bulk_over_500_documents_gets_422(
    service_under_test: ServiceUnderTest, new_tenant: Callable[[], str]
) -> None:
    docs = [{"title": f"t{i}"} for i in range(501)]
    with service_under_test.client(new_tenant()) as client:
        body = _problem(client.post("/v1/documents/_bulk", json={"documents": docs}), 422)
        assert "documents" in body["detail"]


def test_malformed_json_gets_422(
    service_under_test: ServiceUnderTest, new_tenant: Callable[[], str]
) -> None:
    with service_under_test.client(new_tenant()) as client:
        response = client.post(
            "/v1/documents", content=b"{not json", headers={"content-type": "application/json"}
        )
        _problem(response, 422)


def test_unknown_routes_and_methods_are_problems(service_under_test: ServiceUnderTest) -> None:
    with service_under_test.client("acme") as client:
        _problem(client.get("/v1/nothing-here"), 404)
        _problem(client.put("/v1/search"), 405)


def _text(max_size: int) -> st.SearchStrategy[str]:
    # Lone surrogates cannot even be encoded by the client, so they never reach us.
    return st.text(st.characters(exclude_categories=("Cs",)), max_size=max_size)


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text(30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(_text(10), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    payload=st.dictionaries(
        st.sampled_from(
            ["title", "body", "tags", "status", "subject_id", "metadata", "published_at", "x"]
        ),
        _json_values,
        max_size=6,
    ),
    q=_text(80),
    method=st.sampled_from(["post", "put", "patch"]),
)
def test_no_input_produces_a_500(
    service_under_test: ServiceUnderTest, payload: dict[str, Any], q: str, method: str
) -> None:
    with service_under_test.client("fuzz-tenant") as client:
        if method == "post":
            response = client.post("/v1/documents", json=payload)
        else:
            path = "/v1/documents/00000000-0000-0000-0000-000000000000"
            response = client.request(method.upper(), path, json=payload)
        assert response.status_code in (202, 404, 422), response.text
        searched = client.get("/v1/search", params={"q": q, "tags": q[:64] or "x"})
        assert searched.status_code in (200, 422), searched.text
        suggested = client.get("/v1/autocomplete", params={"prefix": q})
        assert suggested.status_code in (200, 422), suggested.text
