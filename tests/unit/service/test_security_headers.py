"""Security headers on every response of the app (every route, errors, 404, 422, 500),
the docs pages' own CSP in dev only, and CORS only for an allow-listed origin."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from starlette.routing import Route

from service.main import create_app
from service.security.headers import API_CSP, DOCS_CSP, DOCS_PATHS
from service.settings import AuthSettings, SecuritySettings, Settings
from service.tenants.auth import issue_token

EXPECTED = {
    "strict-transport-security": "max-age=31536000; includeSubDomains",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def _assert_secured(response: httpx.Response, csp: str = API_CSP) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (response.request.url, name)
    assert response.headers["content-security-policy"] == csp
    assert "access-control-allow-origin" not in response.headers


def _client(settings: Settings, app: object | None = None) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app or create_app(settings), raise_app_exceptions=False)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://service")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with _client(Settings.from_env()) as client:
        yield client


def _admin() -> dict[str, str]:
    token = issue_token(AuthSettings(), tenant="acme", role="admin", ttl_s=60)
    return {"Authorization": f"Bearer {token}"}


def _routes(routes: Sequence[Any], prefix: str = "") -> Iterator[tuple[str, set[str]]]:
    """Every (path, methods), through FastAPI's included routers."""
    for route in routes:
        if isinstance(route, APIRoute | Route):
            yield prefix + route.path, set(route.methods or ())
        elif hasattr(route, "original_router"):  # an include_router() entry
            yield from _routes(route.original_router.routes, prefix + route.include_context.prefix)


async def test_every_route_answers_with_the_security_headers() -> None:
    app = create_app(Settings.from_env())
    routes = list(_routes(app.routes))
    assert {"/v1/search", "/v1/documents", "/v1/admin/dlq"} <= {p for p, _ in routes}
    seen = 0
    async with _client(Settings.from_env(), app) as client:
        for route_path, methods in routes:
            path = re.sub(r"\{[^}]+\}", "00000000-0000-0000-0000-000000000000", route_path)
            for method in sorted(methods):
                for headers in ({}, _admin()):
                    response = await client.request(method, path, headers=headers)
                    _assert_secured(response, DOCS_CSP if route_path in DOCS_PATHS else API_CSP)
                    seen += 1
    assert seen >= 2 * len(routes)  # every route and method, with and without credentials


async def test_a_404_a_405_and_a_422_carry_the_headers(client: httpx.AsyncClient) -> None:
    not_found = await client.get("/nowhere")
    assert not_found.status_code == 404
    _assert_secured(not_found)
    not_allowed = await client.delete("/v1/search", headers=_admin())
    assert not_allowed.status_code == 405
    _assert_secured(not_allowed)
    invalid = await client.post(
        "/v1/documents",
        content=b"{not json",
        headers={**_admin(), "content-type": "application/json"},
    )
    assert invalid.status_code == 422
    _assert_secured(invalid)


async def test_an_unhandled_500_carries_the_headers_too() -> None:
    app = create_app(Settings.from_env())

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    async with _client(Settings.from_env(), app) as client:
        response = await client.get("/boom")
    assert response.status_code == 500
    _assert_secured(response)


async def test_the_docs_pages_get_their_own_csp_in_dev_and_are_gone_elsewhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with _client(Settings.from_env()) as client:
        docs = await client.get("/docs")
    assert docs.status_code == 200 and "swagger-ui" in docs.text
    _assert_secured(docs, DOCS_CSP)
    monkeypatch.setenv("SERVICE_PROFILE", "production")
    monkeypatch.setenv("SERVICE_AUTH_JWT_KEY", "k" * 40)
    try:
        settings = Settings.from_env()
    except ValueError as exc:  # another part refuses this profile without more secrets
        pytest.skip(f"production settings need more secrets here: {exc}")
    async with _client(settings) as client:
        assert (await client.get("/docs")).status_code == 404
        assert (await client.get("/redoc")).status_code == 404


async def test_no_cors_headers_without_an_allow_list(client: httpx.AsyncClient) -> None:
    preflight = await client.options(
        "/v1/search",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in preflight.headers


async def test_cors_answers_only_the_allow_listed_origin() -> None:
    settings = Settings.from_env().model_copy(
        update={"security": SecuritySettings(cors_origins="https://app.example")}
    )
    async with _client(settings) as client:
        ok = await client.options(
            "/v1/search",
            headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"},
        )
        other = await client.get("/v1/health", headers={"Origin": "https://evil.example"})
    assert ok.status_code == 200
    assert ok.headers["access-control-allow-origin"] == "https://app.example"
    assert ok.headers["x-frame-options"] == "DENY"
    assert "access-control-allow-origin" not in other.headers
