"""401 for missing or bad credentials, 403 for a role, 404 for another tenant's id."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import asyncpg
import httpx
import jwt
import pytest
from service_helpers import ServiceUnderTest, eventually, make_document

from service.settings import AuthSettings
from service.tenants.auth import issue_token


def _assert_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert {"type", "title", "detail"} <= set(body)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-jwt"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"X-API-Key": "gdk_unknown"},
        {"X-API-Key": "wrong-shape"},
    ],
    ids=["missing", "garbage-token", "basic-auth", "unknown-api-key", "malformed-api-key"],
)
def test_missing_or_bad_credentials_get_401(
    service_under_test: ServiceUnderTest, headers: dict[str, str]
) -> None:
    response = httpx.get(f"{service_under_test.url}/v1/search", headers=headers)
    _assert_problem(response, 401)


def test_an_expired_token_gets_401(service_under_test: ServiceUnderTest) -> None:
    token = issue_token(AuthSettings(), tenant="acme", role="user", ttl_s=-60)
    response = httpx.get(
        f"{service_under_test.url}/v1/search", headers={"Authorization": f"Bearer {token}"}
    )
    _assert_problem(response, 401)
    assert "expired" in response.json()["detail"]


def test_a_token_signed_with_another_key_gets_401(service_under_test: ServiceUnderTest) -> None:
    forged = jwt.encode(
        {"sub": "x", "tenant": "acme", "role": "admin", "exp": 9999999999},
        "some-other-key-that-is-long-enough-for-hs256!",
        algorithm="HS256",
    )
    response = httpx.get(
        f"{service_under_test.url}/v1/search", headers={"Authorization": f"Bearer {forged}"}
    )
    _assert_problem(response, 401)


def test_read_only_role_cannot_write(
    service_under_test: ServiceUnderTest, new_tenant: Callable[[], str]
) -> None:
    with service_under_test.client(new_tenant(), role="read-only") as client:
        _assert_problem(client.post("/v1/documents", json=make_document()), 403)
        assert client.get("/v1/search").status_code == 200


def test_user_role_cannot_use_admin_endpoints(
    service_under_test: ServiceUnderTest, new_tenant: Callable[[], str]
) -> None:
    tenant = new_tenant()
    with service_under_test.client(tenant, role="user") as client:
        _assert_problem(client.get("/v1/admin/dlq"), 403)
        _assert_problem(client.delete(f"/v1/tenants/{tenant}/subjects/someone"), 403)


def test_other_tenant_gets_404_for_a_foreign_document(
    service_under_test: ServiceUnderTest, new_tenant: Callable[[], str]
) -> None:
    with (
        service_under_test.client(new_tenant()) as owner,
        service_under_test.client(new_tenant(), role="admin") as stranger,
    ):
        doc_id = owner.post("/v1/documents", json=make_document()).json()["id"]
        _assert_problem(stranger.get(f"/v1/documents/{doc_id}"), 404)
        _assert_problem(stranger.patch(f"/v1/documents/{doc_id}", json={"title": "x"}), 404)
        _assert_problem(stranger.put(f"/v1/documents/{doc_id}", json=make_document()), 404)
        _assert_problem(stranger.delete(f"/v1/documents/{doc_id}"), 404)
        assert owner.get(f"/v1/documents/{doc_id}").status_code == 200


def test_api_keys_authenticate_rotate_and_revoke(
    service_under_test: ServiceUnderTest, new_tenant: Callable[[], str]
) -> None:
    tenant = new_tenant()
    with service_under_test.client(tenant, role="admin") as admin:
        first = admin.post(f"/v1/tenants/{tenant}/api-keys", json={"role": "user"}).json()
        second = admin.post(f"/v1/tenants/{tenant}/api-keys", json={"role": "read-only"}).json()
        url = service_under_test.url
        created = httpx.post(
            f"{url}/v1/documents", json=make_document(), headers={"X-API-Key": first["key"]}
        )
        assert created.status_code == 202
        doc_id = created.json()["id"]
        by_second = httpx.get(f"{url}/v1/documents/{doc_id}", headers={"X-API-Key": second["key"]})
        assert by_second.status_code == 200  # both keys active at once, same tenant
        _assert_problem(
            httpx.post(
                f"{url}/v1/documents", json=make_document(), headers={"X-API-Key": second["key"]}
            ),
            403,
        )
        fresh = admin.post(f"/v1/tenants/{tenant}/api-keys", json={"role": "user"}).json()
        assert admin.delete(f"/v1/tenants/{tenant}/api-keys/{fresh['id']}").status_code == 204
        _assert_problem(
            httpx.get(f"{url}/v1/search", headers={"X-API-Key": fresh["key"]}), 401
        )  # revoked before first use, so no cached principal
        _assert_problem(admin.post(f"/v1/tenants/{new_tenant()}/api-keys", json={}), 404)


def test_writes_and_auth_failures_are_audited(
    service_under_test: ServiceUnderTest, new_tenant: Callable[[], str]
) -> None:

    import asyncpg

    tenant = new_tenant()
    marker = f"/v1/documents/00000000-0000-0000-0000-{uuid.uuid4().hex[:12]}"
    with service_under_test.client(tenant) as client:
        doc_id = client.post("/v1/documents", json=make_document()).json()["id"]
    httpx.get(f"{service_under_test.url}{marker}", headers={"Authorization": "Bearer nope"})

    async def audit_rows() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(service_under_test.stack.postgres_dsn)
        try:
            schema = service_under_test.env["SERVICE_POSTGRES_SCHEMA"]
            return await conn.fetch(
                f"SELECT action, tenant_id, document_id::text AS doc, detail::text AS detail "
                f'FROM "{schema}".audit_log WHERE tenant_id = $1 OR detail::text LIKE $2',
                tenant,
                f"%{marker}%",
            )
        finally:
            await conn.close()

    def both_rows() -> list[asyncpg.Record] | None:
        found = asyncio.run(audit_rows())
        return found if len(found) >= 2 else None  # the 401 is audited in the background

    rows = eventually(both_rows)
    actions = {(row["action"], row["doc"]) for row in rows}
    assert ("create", doc_id) in actions
    assert any(row["action"] == "auth_failed" and marker in row["detail"] for row in rows)
