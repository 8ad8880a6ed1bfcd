"""Problem bodies and the body limit, on the app without its dependencies started."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from service.main import create_app
from service.settings import Settings


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings.from_env())
    # ASGITransport does not run the lifespan (pools, clients); nothing here needs it.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        yield client


async def test_missing_credentials_are_a_401_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/search")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"
    body = response.json()
    assert body["type"].endswith("/unauthorized") and body["status"] == 401
    assert "missing credentials" in body["detail"]


async def test_an_oversized_body_is_a_413_problem_before_anything_else(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/v1/documents", content=b"x" * (1024 * 1024 + 1))
    assert response.status_code == 413
    assert response.json()["title"] == "Payload too large"


async def test_bulk_has_its_own_larger_limit(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/documents/_bulk", content=b"x" * (1024 * 1024 + 1))
    assert response.status_code != 413


async def test_an_unknown_route_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/nope")
    assert response.status_code == 404
    assert response.json()["detail"] == "no route for GET /v1/nope"


async def test_openapi_is_published_under_v1(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert {"/v1/documents", "/v1/search", "/v1/autocomplete", "/v1/admin/dlq"} <= set(paths)
    assert "/v1/tenants/{tenant}/subjects/{subject}" in paths


async def test_a_service_still_starting_is_not_ready(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/health/ready")).status_code == 503
    assert (await client.get("/v1/health")).json() == {"status": "ok"}
