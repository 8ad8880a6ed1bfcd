"""Retention: documents older than the tenant's period leave PostgreSQL, OpenSearch and
the cache after one round of the job, with counts in the audit log; one worker at a time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
from service_helpers import ServiceUnderTest, eventually, make_document, search_ids

from service.retention import LOCK_KEY, LOCK_SQL


def _backdate(sut: ServiceUnderTest, tenant: str, ids: list[str], days: int) -> int:
    async def run() -> int:
        conn = await asyncpg.connect(sut.stack.postgres_dsn)
        try:
            status = await conn.execute(
                f'UPDATE "{sut.env["SERVICE_POSTGRES_SCHEMA"]}".documents '
                "SET created_at = now() - make_interval(days => $3) "
                "WHERE tenant_id = $1 AND id = ANY($2::uuid[])",
                tenant,
                ids,
                days,
            )
            return int(status.split()[-1])
        finally:
            await conn.close()

    return asyncio.run(run())


def _count(sut: ServiceUnderTest, tenant: str) -> int:
    async def run() -> int:
        conn = await asyncpg.connect(sut.stack.postgres_dsn)
        try:
            schema = sut.env["SERVICE_POSTGRES_SCHEMA"]
            return int(
                await conn.fetchval(
                    f'SELECT count(*) FROM "{schema}".documents WHERE tenant_id = $1', tenant
                )
            )
        finally:
            await conn.close()

    return asyncio.run(run())


def test_documents_past_the_retention_period_are_deleted_everywhere(
    service_under_test: ServiceUnderTest, new_tenant: Callable[[], str]
) -> None:
    sut, tenant = service_under_test, new_tenant()
    with sut.client(tenant, role="admin") as admin:
        ids = [
            admin.post("/v1/documents", json=make_document(title=f"keepsake {i}")).json()["id"]
            for i in range(3)
        ]
        eventually(lambda: search_ids(admin, q="keepsake") == set(ids) or None)
        assert search_ids(admin, q="keepsake") == set(ids)  # now cached as well
        assert _backdate(sut, tenant, ids[:2], days=40) == 2
        assert admin.put("/v1/admin/retention", json={"retention_days": 30}).status_code == 200
        ran = admin.post("/v1/admin/retention/run")
        assert ran.status_code == 200, ran.text
        report = ran.json()
        assert (report["skipped"], report["retention_days"]) == (False, 30)
        assert (report["postgres_deleted"], report["opensearch_deleted"]) == (2, 2)
        assert _count(sut, tenant) == 1
        assert search_ids(admin, q="keepsake") == {ids[2]}  # the cache was invalidated
        for gone in ids[:2]:
            assert admin.get(f"/v1/documents/{gone}").status_code == 404
        done = next(
            i
            for i in admin.get("/v1/admin/audit").json()["items"]
            if i["action"] == "retention_done"
        )
    assert done["detail"]["postgres_deleted"] == 2
    assert done["detail"]["opensearch_deleted"] == 2
    assert done["actor"] == "system:retention"


def test_a_round_is_skipped_while_another_worker_holds_the_lock(
    service_under_test: ServiceUnderTest, new_tenant: Callable[[], str]
) -> None:
    sut, tenant = service_under_test, new_tenant()
    with sut.client(tenant, role="admin") as admin:
        doc_id = admin.post("/v1/documents", json=make_document()).json()["id"]
        _backdate(sut, tenant, [doc_id], days=10)
        admin.put("/v1/admin/retention", json={"retention_days": 1})

        async def run_while_locked() -> dict[str, object]:
            conn = await asyncpg.connect(sut.stack.postgres_dsn)
            try:
                await conn.execute(f'SET search_path TO "{sut.env["SERVICE_POSTGRES_SCHEMA"]}"')
                assert await conn.fetchval(LOCK_SQL, LOCK_KEY)
                response = await asyncio.to_thread(admin.post, "/v1/admin/retention/run")
                return dict(response.json())
            finally:
                await conn.close()

        assert asyncio.run(run_while_locked())["skipped"] is True
        assert _count(sut, tenant) == 1
        after = admin.post("/v1/admin/retention/run").json()  # the lock went with the session
        assert (after["skipped"], after["postgres_deleted"]) == (False, 1)
