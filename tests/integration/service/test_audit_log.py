"""The audit trail: rows for writes, admin actions and rejections, with the request id;
append-only in PostgreSQL; paged newest first by GET /v1/admin/audit (own tenant only);
no subject id in clear. API keys rotate with an overlap."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import pytest
from service_helpers import ServiceUnderTest, eventually, make_document


def _sql(sut: ServiceUnderTest, query: str, *args: Any) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(sut.stack.postgres_dsn)
        try:
            await conn.execute(f'SET search_path TO "{sut.env["SERVICE_POSTGRES_SCHEMA"]}"')
            return await conn.fetch(query, *args)
        finally:
            await conn.close()

    return asyncio.run(run())


def _audit(admin: httpx.Client, **params: Any) -> dict[str, Any]:
    response = admin.get("/v1/admin/audit", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def test_writes_and_admin_actions_are_audited_with_their_request_id(
    service_under_test: ServiceUnderTest, new_tenant: Callable[[], str]
) -> None:
    tenant = new_tenant()
    request_id = f"audit-{uuid.uuid4().hex[:12]}"
    with service_under_test.client(tenant, role="admin") as admin:
        created = admin.post(
            "/v1/documents", json=make_document(), headers={"X-Request-ID": request_id}
        )
        assert created.status_code == 202, created.text
        doc_id = created.json()["id"]
        assert admin.delete(f"/v1/documents/{doc_id}").status_code == 202
        assert admin.put("/v1/admin/retention", json={"retention_days": 30}).status_code == 200
        items = _audit(admin)["items"]
    actions = [item["action"] for item in items]
    assert actions[:3] == ["retention_set", "delete", "create"]  # newest first
    create = items[2]
    assert (create["tenant_id"], create["document_id"], create["outcome"]) == (
        tenant,
        doc_id,
        "ok",
    )
    assert create["request_id"] == request_id
    assert create["actor"] and create["at"]
    assert "body" not in create["detail"] and "title" not in create["detail"]


def test_the_audit_log_pages_newest_first_and_shows_only_the_own_tenant(
    service_under_test: ServiceUnderTest, new_tenant: Callable[[], str]
) -> None:
    tenant = new_tenant()
    with (
        service_under_test.client(tenant, role="admin") as admin,
        service_under_test.client(new_tenant(), role="admin") as stranger,
    ):
        ids = [admin.post("/v1/documents", json=make_document()).json()["id"] for _ in range(3)]
        first = _audit(admin, limit=2)
        assert [i["document_id"] for i in first["items"]] == [ids[2], ids[1]]
        second = _audit(admin, limit=2, before=first["next_before"])
        assert [i["document_id"] for i in second["items"]] == [ids[0]]
        assert second["next_before"] is None
        assert _audit(stranger)["items"] == []


def test_the_audit_table_refuses_update_delete_and_truncate(
    service_under_test: ServiceUnderTest, new_tenant: Callable[[], str]
) -> None:
    tenant = new_tenant()
    with service_under_test.client(tenant) as client:
        assert client.post("/v1/documents", json=make_document()).status_code == 202
    for statement in (
        "UPDATE audit_log SET actor = 'someone-else' WHERE tenant_id = $1",
        "DELETE FROM audit_log WHERE tenant_id = $1",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            _sql(service_under_test, statement, tenant)
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
        _sql(service_under_test, "TRUNCATE audit_log")
    rows = _sql(service_under_test, "SELECT actor FROM audit_log WHERE tenant_id = $1", tenant)
    assert len(rows) == 1 and rows[0]["actor"] != "someone-else"


def test_erasure_is_audited_without_the_subject_id(
    service_under_test: ServiceUnderTest, new_tenant: Callable[[], str]
) -> None:
    tenant = new_tenant()
    subject = f"jane.{uuid.uuid4().hex[:8]}@example.com"
    with service_under_test.client(tenant, role="admin") as admin:
        admin.post("/v1/documents", json=make_document(subject_id=subject))
        erased = admin.delete(f"/v1/tenants/{tenant}/subjects/{subject}")
        assert erased.status_code == 200, erased.text
        erasure = next(i for i in _audit(admin)["items"] if i["action"] == "erasure")
    assert erasure["detail"]["documents"] == 1
    assert len(erasure["detail"]["subject_sha256"]) == 64
    leaked = _sql(
        service_under_test, "SELECT id FROM audit_log WHERE detail::text LIKE $1", f"%{subject}%"
    )
    assert leaked == []


def test_refused_requests_are_audited_in_the_background(
    service_under_test: ServiceUnderTest, new_tenant: Callable[[], str]
) -> None:
    tenant = new_tenant()
    subject = f"s-{uuid.uuid4().hex[:10]}"
    with service_under_test.client(tenant, role="read-only") as reader:
        assert reader.delete(f"/v1/tenants/{tenant}/subjects/{subject}").status_code == 403

    def denied() -> list[asyncpg.Record] | None:
        rows = _sql(
            service_under_test,
            "SELECT outcome, detail FROM audit_log WHERE tenant_id = $1 "
            "AND action = 'access_denied'",
            tenant,
        )
        return rows or None

    row = eventually(denied)[0]
    assert row["outcome"] == "rejected"
    assert subject not in str(row["detail"])  # the path's subject segment is masked


def test_an_api_key_rotates_with_an_overlap(
    service_under_test: ServiceUnderTest, new_tenant: Callable[[], str]
) -> None:
    tenant = new_tenant()
    url = service_under_test.url
    with service_under_test.client(tenant, role="admin") as admin:
        old = admin.post(f"/v1/tenants/{tenant}/api-keys", json={"role": "user"}).json()
        rotated = admin.post(
            f"/v1/tenants/{tenant}/api-keys/{old['id']}/rotate", json={"overlap_s": 3600}
        )
        assert rotated.status_code == 201, rotated.text
        new = rotated.json()
        assert (new["role"], new["previous_id"]) == ("user", old["id"])
        for key in (old["key"], new["key"]):  # both valid during the overlap
            assert httpx.get(f"{url}/v1/search", headers={"X-API-Key": key}).status_code == 200
        # No overlap: the old key stops at once (never used, so no worker has it cached).
        unused = admin.post(f"/v1/tenants/{tenant}/api-keys", json={"role": "user"}).json()
        cut = admin.post(
            f"/v1/tenants/{tenant}/api-keys/{unused['id']}/rotate", json={"overlap_s": 0}
        ).json()
        refused = httpx.get(f"{url}/v1/search", headers={"X-API-Key": unused["key"]})
        assert refused.status_code == 401, refused.text
        assert httpx.get(f"{url}/v1/search", headers={"X-API-Key": cut["key"]}).status_code == 200
        again = admin.post(f"/v1/tenants/{tenant}/api-keys/{unused['id']}/rotate", json={})
        assert again.status_code == 404  # an expired key cannot be rotated again
        actions = [i["action"] for i in _audit(admin)["items"]]
    assert actions.count("api_key_rotated") == 2


def test_postgres_tls_required_by_setting_refuses_a_server_without_tls(
    service_under_test: ServiceUnderTest,
) -> None:
    from service.settings import PostgresSettings

    def connect(sslmode: str) -> None:
        dsn = PostgresSettings(dsn=service_under_test.stack.postgres_dsn, sslmode=sslmode).dsn

        async def run() -> None:
            conn = await asyncpg.connect(dsn, timeout=10)
            await conn.close()

        asyncio.run(run())

    with pytest.raises((ConnectionError, OSError, asyncpg.PostgresError)):
        connect("require")
    connect("prefer")  # the same server without TLS: prefer falls back, require refused
