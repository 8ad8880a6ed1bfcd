from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from service.search.cache import make_key
from service.search.query import build_autocomplete, build_search, normalized_search
from service.search.schemas import AutocompleteParams, SearchParams


def _filters(body: dict[str, Any]) -> list[dict[str, Any]]:
    filters: list[dict[str, Any]] = body["query"]["bool"]["filter"]
    return filters


def test_every_search_filters_by_the_callers_tenant() -> None:
    for params in (SearchParams(), SearchParams(q="x"), SearchParams(q="x", tags=["a"])):
        assert {"term": {"tenant_id": "acme"}} in _filters(build_search("acme", params))


def test_filters_go_in_filter_context_and_text_in_must_with_title_boosted() -> None:
    params = SearchParams(
        q="Red  Fox",
        tags=["b,a"],
        status="published",
        from_date=datetime(2025, 1, 1, tzinfo=UTC),
        to_date=datetime(2025, 2, 1, tzinfo=UTC),
    )
    body = build_search("acme", params)
    (must,) = body["query"]["bool"]["must"]
    assert must["multi_match"]["query"] == "red fox"
    assert must["multi_match"]["fields"] == ["title^3", "body"]
    filters = _filters(body)
    assert {"terms": {"tags": ["a", "b"]}} in filters
    assert {"term": {"status": "published"}} in filters
    assert {
        "range": {
            "published_at": {"gte": "2025-01-01T00:00:00+00:00", "lte": "2025-02-01T00:00:00+00:00"}
        }
    } in filters  # noqa: E501 - one literal reads better


def test_pagination_fields_and_highlight() -> None:
    body = build_search(
        "t", SearchParams(q="x", page=3, size=20, fields="title,tags", highlight=True)
    )
    assert (body["from"], body["size"]) == (40, 20)
    assert body["_source"] == ["tags", "title"]
    assert set(body["highlight"]["fields"]) == {"title", "body"}
    assert "highlight" not in build_search("t", SearchParams(q="x"))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"size": 101}, "less than or equal to 100"),
        ({"q": "a" * 513}, "at most 512"),
        ({"page": 101, "size": 100}, "page * size"),
        ({"fields": "title,secret"}, "unknown field(s) secret"),
        ({"bogus": 1}, "Extra inputs"),
        ({"from_date": "2025-02-01T00:00:00Z", "to_date": "2025-01-01T00:00:00Z"}, "from_date"),
    ],
    ids=["size", "query-length", "window", "fields", "unknown", "dates"],
)
def test_bad_search_params_are_refused_with_the_reason(
    params: dict[str, Any], message: str
) -> None:
    with pytest.raises(
        ValidationError, match=message.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")
    ):
        SearchParams.model_validate(params)


def test_autocomplete_is_tenant_filtered_and_capped_at_ten() -> None:
    body = build_autocomplete("acme", AutocompleteParams(prefix="qu"))
    assert body["size"] == 10
    assert body["query"]["bool"]["filter"] == [{"term": {"tenant_id": "acme"}}]
    with pytest.raises(ValidationError):
        AutocompleteParams(prefix="qu", size=11)


def _key(tenant: str = "a", generation: int = 0, q: str = "x", **kw: Any) -> str:
    params = SearchParams(q=q)
    args: dict[str, Any] = {"page": 1, "size": 10, "fields": ()}
    args.update(kw)
    return make_key("p:", tenant, generation, normalized_search(params), **args)


def test_cache_keys_separate_tenants_generations_pages_sizes_and_fields() -> None:
    base = _key()
    assert _key(q="  X ") == base  # normalized text shares an entry
    others = [
        _key(tenant="b"),
        _key(generation=1),
        _key(page=2),
        _key(size=20),
        _key(fields=("title",)),
        _key(q="y"),
    ]
    assert base not in others and len(set(others)) == len(others)
    assert base.startswith("p:search:a:g0:")
