"""Every route against every role, from an explicit table, and every way a bearer token
can be wrong: each a 401 with a problem body.

A route the table does not list fails ``test_every_route_is_classified``: a new route
must be given its access class here before it ships.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from auth_keys import EXPIRED_KID, EXPIRED_SECRET, GRACE_KID, GRACE_SECRET, sign
from fastapi.routing import iter_route_contexts
from service_helpers import ServiceUnderTest

from service.settings import DEV_JWT_KEY

PUBLIC, READ, WRITE, ADMIN = "public", "read", "write", "admin"
ALLOWED = {
    PUBLIC: {"admin", "user", "read-only", None},
    READ: {"admin", "user", "read-only"},
    WRITE: {"admin", "user"},
    ADMIN: {"admin"},
}
ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("GET", "/metrics"): PUBLIC,
    ("GET", "/v1/health"): PUBLIC,
    ("GET", "/v1/health/ready"): PUBLIC,
    ("GET", "/health/live"): PUBLIC,
    ("GET", "/health/ready"): PUBLIC,
    ("GET", "/health/startup"): PUBLIC,
    ("GET", "/v1/search"): READ,
    ("GET", "/v1/autocomplete"): READ,
    ("GET", "/v1/documents/{doc_id}"): READ,
    ("POST", "/v1/documents"): WRITE,
    ("POST", "/v1/documents/_bulk"): WRITE,
    ("PUT", "/v1/documents/{doc_id}"): WRITE,
    ("PATCH", "/v1/documents/{doc_id}"): WRITE,
    ("DELETE", "/v1/documents/{doc_id}"): WRITE,
    ("POST", "/v1/tenants/{tenant}/api-keys"): ADMIN,
    ("DELETE", "/v1/tenants/{tenant}/api-keys/{key_id}"): ADMIN,
    ("POST", "/v1/tenants/{tenant}/api-keys/{key_id}/rotate"): ADMIN,
    ("DELETE", "/v1/tenants/{tenant}/subjects/{subject}"): ADMIN,
    ("GET", "/v1/admin/dlq"): ADMIN,
    ("POST", "/v1/admin/dlq/replay"): ADMIN,
    ("GET", "/v1/admin/audit"): ADMIN,
    ("GET", "/v1/admin/retention"): ADMIN,
    ("PUT", "/v1/admin/retention"): ADMIN,
    ("POST", "/v1/admin/retention/run"): ADMIN,
    ("GET", "/v1/admin/cache"): ADMIN,
    ("GET", "/v1/admin/breakers"): ADMIN,
}
ROLES = ("admin", "user", "read-only", None)  # None: no credentials at all


def _app_routes() -> set[tuple[str, str]]:
    from service.main import create_app
    from service.settings import Settings

    app = create_app(Settings.from_env())
    return {
        (method, context.path)
        for context in iter_route_contexts(app.routes)
        for method in (context.methods or set())
        if method != "HEAD"
    }


def _assert_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, (response.request.url, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == status


def test_every_route_is_classified() -> None:
    routes = _app_routes()
    unlisted = sorted(routes - ROUTES.keys())
    assert not unlisted, f"classify these routes in ROUTES (public/read/write/admin): {unlisted}"
    gone = sorted(ROUTES.keys() - routes)
    assert not gone, f"ROUTES lists routes the app no longer has: {gone}"


def _request(method: str, path: str, tenant: str) -> tuple[str, dict[str, Any]]:
    url = path.format(
        tenant=tenant, doc_id=uuid.uuid4(), key_id=uuid.uuid4(), subject="matrix-subject"
    )
    # An empty body: a refused role gets its 403 before validation, an allowed one a 422.
    return url, ({"json": {}} if method in {"POST", "PUT", "PATCH"} else {})


@pytest.fixture
def clients(
    service_under_test: ServiceUnderTest, new_tenant: Callable[[], str]
) -> Iterator[dict[str | None, tuple[str, httpx.Client]]]:
    made = {}
    for role in ROLES:
        tenant = new_tenant()
        client = service_under_test.client(tenant if role else None, role=role or "user")
        made[role] = (tenant, client)
    yield made
    for _, client in made.values():
        client.close()


@pytest.mark.parametrize(
    ("method", "path"), sorted(ROUTES), ids=[f"{m} {p}" for m, p in sorted(ROUTES)]
)
def test_each_role_is_allowed_or_refused_as_the_table_says(
    clients: dict[str | None, tuple[str, httpx.Client]], method: str, path: str
) -> None:
    access = ROUTES[(method, path)]
    for role in ROLES:
        tenant, client = clients[role]
        url, body = _request(method, path, tenant)
        response = client.request(method, url, **body)
        if role in ALLOWED[access]:
            assert response.status_code not in (401, 403), (role, response.text)
            assert response.status_code < 500, (role, response.text)
        elif role is None:
            _assert_problem(response, 401)
        else:
            _assert_problem(response, 403)


def _expired() -> str:
    return sign("acme", key=DEV_JWT_KEY, kid="dev", iat=1_000_000, exp=1_000_060)


BAD_TOKENS: dict[str, Callable[[], str]] = {
    "expired": _expired,
    "iat-in-the-future": lambda: sign("acme", key=DEV_JWT_KEY, kid="dev", iat=4_000_000_000),
    "nbf-in-the-future": lambda: sign("acme", key=DEV_JWT_KEY, kid="dev", nbf=4_000_000_000),
    "wrong-signature": lambda: sign("acme", key="not-the-key-" + "n" * 32, kid="dev"),
    "alg-none": lambda: sign("acme", key=None, kid="dev", alg="none"),
    "alg-none-no-kid": lambda: sign("acme", key=None, kid=None, alg="none"),
    "wrong-audience": lambda: sign("acme", key=DEV_JWT_KEY, kid="dev", aud="other-service"),
    "no-audience": lambda: sign("acme", key=DEV_JWT_KEY, kid="dev", aud=None),
    "unknown-kid": lambda: sign("acme", key=DEV_JWT_KEY, kid="k-unknown"),
    "retired-key-after-grace": lambda: sign("acme", key=EXPIRED_SECRET, kid=EXPIRED_KID),
}


@pytest.mark.parametrize("make_token", list(BAD_TOKENS.values()), ids=list(BAD_TOKENS))
def test_bad_tokens_get_401_with_a_problem_body(
    service_under_test: ServiceUnderTest, make_token: Callable[[], str]
) -> None:
    response = httpx.get(
        f"{service_under_test.url}/v1/search",
        headers={"Authorization": f"Bearer {make_token()}"},
        timeout=15.0,
    )
    _assert_problem(response, 401)
    assert response.json()["detail"]


@pytest.mark.parametrize(
    ("key", "kid"), [(DEV_JWT_KEY, "dev"), (GRACE_SECRET, GRACE_KID)], ids=["current", "in-grace"]
)
def test_the_current_key_and_a_retired_key_in_grace_are_accepted(
    service_under_test: ServiceUnderTest, new_tenant: Callable[[], str], key: str, kid: str
) -> None:
    token = sign(new_tenant(), key=key, kid=kid, role="read-only")
    response = httpx.get(
        f"{service_under_test.url}/v1/search",
        headers={"Authorization": f"Bearer {token}"},
        timeout=15.0,
    )
    assert response.status_code == 200, response.text
