"""PostgreSQL connections reset under writes (a reset_peer toxic on half of them): every
answer is a 202 or a 503, none hangs, and every write answered 202 is stored and, once
the toxic is gone, searchable. A service of our own, in the session namespace (the
session indexer indexes its writes), behind a private PostgreSQL proxy."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import replace

import asyncpg
import httpx
import pytest
from service_helpers import (
    ServiceUnderTest,
    eventually,
    free_port,
    make_document,
    private_proxies,
    start_uvicorn,
    stop_processes,
    wait_ready,
)

from gameday.toxiproxy import Toxic, ToxiproxyClient

WRITES = 100
ROUND = 10
CLIENT_TIMEOUT_S = 10.0


@pytest.fixture(scope="module")
def reset_service(service_under_test: ServiceUnderTest) -> Iterator[tuple[ServiceUnderTest, str]]:
    sut = service_under_test
    port = free_port()
    with private_proxies(sut.stack, f"reset-{uuid.uuid4().hex[:6]}", ("postgres",)) as proxies:
        env = {
            **sut.env,
            **proxies.service_env(),
            "SERVICE_POSTGRES_REPLICA_DSNS": "",
            "SERVICE_RESILIENCE_BREAKER_OPEN_DURATION_S": "1",
        }
        url = f"http://127.0.0.1:{port}"
        log_path = sut.logs / "reset-service.log"
        proc = start_uvicorn(port, env, log_path)
        try:
            wait_ready(url, [proc], sut.logs)
            yield replace(sut, url=url, env=env), proxies.name("postgres")
        finally:
            stop_processes(proc)
    assert "unexpected error on" not in log_path.read_text(errors="replace")


def _stored(sut: ServiceUnderTest, ids: list[str]) -> set[str]:
    async def query() -> set[str]:
        conn = await asyncpg.connect(sut.stack.postgres_dsn, timeout=5)
        try:
            schema = sut.env["SERVICE_POSTGRES_SCHEMA"]
            rows = await conn.fetch(
                f'SELECT id::text FROM "{schema}".documents WHERE id = ANY($1::uuid[])', ids
            )
            return {r["id"] for r in rows}
        finally:
            await conn.close()

    return asyncio.run(query())


def test_writes_under_postgres_connection_resets_are_202_or_503_and_202_means_stored(
    reset_service: tuple[ServiceUnderTest, str],
) -> None:
    sut, proxy = reset_service
    tenant = f"tenant-{uuid.uuid4().hex[:12]}"
    tag = f"reset-{uuid.uuid4().hex[:8]}"
    statuses: list[int] = []
    accepted: list[str] = []
    toxic = Toxic(name="reset", type="reset_peer", toxicity=0.5, attributes={"timeout": 0})
    with (
        ToxiproxyClient(sut.stack.toxiproxy_url) as toxiproxy,
        httpx.Client(
            base_url=sut.url,
            headers={"Authorization": f"Bearer {sut.token(tenant)}"},
            timeout=CLIENT_TIMEOUT_S,  # a hang fails the test with ReadTimeout
        ) as client,
    ):
        for _ in range(WRITES // ROUND):
            # Toxicity is drawn per connection when the toxic is added, and the pool keeps
            # its connections: a fresh draw every round, or a lucky pool sees no reset.
            toxiproxy.add_toxic(proxy, toxic)
            try:
                for _ in range(ROUND):
                    response = client.post("/v1/documents", json=make_document(tags=[tag]))
                    statuses.append(response.status_code)
                    if response.status_code == 202:
                        accepted.append(response.json()["id"])
            finally:
                toxiproxy.remove_toxic(proxy, "reset")
    assert set(statuses) <= {202, 503}, sorted(set(statuses))
    assert 503 in statuses  # the fault did reach the writes
    assert accepted, "no write got through: the test shows nothing about 202s"
    assert _stored(sut, accepted) == set(accepted)
    with sut.client(tenant) as reader:

        def searchable() -> bool:
            response = reader.get("/v1/search", params={"tags": tag, "size": 100})
            return response.status_code == 200 and response.json()["total"] >= len(accepted)

        eventually(searchable, timeout_s=60, every_s=0.5)
        found = reader.get("/v1/search", params={"tags": tag, "size": 100}).json()
    assert set(accepted) <= {hit["id"] for hit in found["hits"]}
