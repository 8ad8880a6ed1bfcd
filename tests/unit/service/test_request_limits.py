"""Every request limit, exceeded: the right status and a problem body naming the limit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from service.main import create_app
from service.settings import AuthSettings, HttpSettings, Settings
from service.tenants.auth import issue_token

LIMITS = HttpSettings(
    max_body_bytes=2048,
    max_bulk_body_bytes=4096,
    max_header_bytes=2048,
    max_query_bytes=512,
    body_timeout_s=0.3,
    request_timeout_s=0.3,
)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings.from_env().model_copy(update={"http": LIMITS}))

    @app.get("/slow")
    async def slow() -> dict[str, str]:
        await asyncio.sleep(5)
        return {"too": "late"}

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        yield client


def _problem(response: httpx.Response, status: int, limit: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-content-type-options"] == "nosniff"
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["limit"] == limit
    assert f"SERVICE_HTTP_{limit.upper()}" in body["detail"]
    return body


def _auth() -> dict[str, str]:
    token = issue_token(AuthSettings(), tenant="acme", role="user", ttl_s=60)
    return {"Authorization": f"Bearer {token}", "content-type": "application/json"}


async def test_headers_over_the_limit_get_431(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/search", headers={"X-Padding": "p" * 3000})
    _problem(response, 431, "max_header_bytes")


async def test_a_query_string_over_the_limit_gets_414(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/search", params={"q": "a" * 600})
    _problem(response, 414, "max_query_bytes")


async def test_a_declared_body_over_the_limit_gets_413(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/documents", content=b"x" * 2049, headers=_auth())
    body = _problem(response, 413, "max_body_bytes")
    assert "2048 bytes" in body["detail"]


async def test_a_chunked_body_over_the_bulk_limit_gets_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"x" * 1024

    response = await client.post("/v1/documents/_bulk", content=chunks(), headers=_auth())
    _problem(response, 413, "max_bulk_body_bytes")


async def test_a_body_trickling_in_slowly_is_cut_off_with_408(client: httpx.AsyncClient) -> None:
    async def trickle() -> AsyncIterator[bytes]:
        for byte in b'{"title": "slow"}':
            await asyncio.sleep(0.05)
            yield bytes([byte])

    response = await client.post("/v1/documents", content=trickle(), headers=_auth())
    body = _problem(response, 408, "body_timeout_s")
    assert "0.3 s" in body["detail"]
    assert response.headers["connection"] == "close"


async def test_a_request_past_its_deadline_gets_504(client: httpx.AsyncClient) -> None:
    response = await client.get("/slow")
    body = _problem(response, 504, "request_timeout_s")
    assert body["type"].endswith("/deadline-exceeded")
    assert response.headers["retry-after"] == "1"


async def test_a_body_within_every_limit_reaches_the_route(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/documents", content=b"{not json", headers=_auth())
    assert response.status_code == 422  # parsed by the route: nothing cut it off
