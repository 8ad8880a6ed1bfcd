"""Rate limits on the real stack: a service of our own with small quotas, in its own
namespace, reaching Redis through a private proxy (so cutting it touches no one else)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import math
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import asyncpg
import httpx
import pytest
import redis
import redis.asyncio as aioredis
from prometheus_client.parser import text_string_to_metric_families
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

from gameday.settings import StackSettings
from gameday.stack.service_env import service_env
from gameday.toxiproxy import Toxic, ToxiproxyClient
from service.namespace import drop_namespace, namespace_env
from service.security.ratelimit import LEASE_TTL_S, RateLimiter
from service.settings import RateLimitSettings
from service.tenants.schemas import Principal, Role

USER_RATE_RPS, USER_BURST = 5, 10
# A cheap authenticated read (PostgreSQL, a 404): the limiter runs first, OpenSearch never.
MISSING = f"/v1/documents/{uuid.UUID(int=0)}"


@dataclass
class LimitedService:
    sut: ServiceUnderTest
    redis_proxy: str

    def set_redis_reachable(self, reachable: bool) -> None:
        with ToxiproxyClient(self.sut.stack.toxiproxy_url) as toxiproxy:
            toxiproxy.set_enabled(self.redis_proxy, reachable)

    def decisions(self) -> dict[str, float]:
        text = httpx.get(f"{self.sut.url}/metrics", timeout=5).text
        return {
            sample.labels["outcome"]: sample.value
            for family in text_string_to_metric_families(text)
            if family.name == "service_ratelimit_decisions"
            for sample in family.samples
            if sample.name == "service_ratelimit_decisions_total"
        }


@pytest.fixture(scope="module")
def limited(
    stack: StackSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LimitedService]:
    # Its own namespace and no indexer: nothing here needs a document indexed.
    suffix = uuid.uuid4().hex[:6]
    namespace = f"rl{suffix}"
    port = free_port()
    with private_proxies(stack, f"rl-{suffix}", ("redis",)) as proxies:
        logs = tmp_path_factory.mktemp("limited")
        env = {
            **os.environ,
            **service_env(stack),
            **namespace_env(namespace),
            **proxies.service_env(),
            "SERVICE_RATELIMIT_USER_RATE_RPS": str(USER_RATE_RPS),
            "SERVICE_RATELIMIT_USER_BURST": str(USER_BURST),
            "SERVICE_RESILIENCE_BREAKER_OPEN_DURATION_S": "2",
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path_factory.mktemp("metrics")),
        }
        url = f"http://127.0.0.1:{port}"
        sut = ServiceUnderTest(
            url=url, env=env, stack=stack, namespace=namespace, logs=logs, amqp_proxy=""
        )
        proc: subprocess.Popen[bytes] | None = None
        try:
            proc = start_uvicorn(port, env, logs / "service.log")
            wait_ready(url, [proc], logs)
            yield LimitedService(sut=sut, redis_proxy=proxies.name("redis"))
        finally:
            stop_processes(proc)
            drop_namespace(stack, env)


def _tenant() -> str:
    return f"tenant-{uuid.uuid4().hex[:12]}"


def test_a_tenant_far_over_its_limit_gets_429s_while_another_within_it_gets_none(
    limited: LimitedService,
) -> None:
    abuser, neighbour = _tenant(), _tenant()
    with limited.sut.client(abuser) as noisy, limited.sut.client(neighbour) as quiet:

        def flood(i: int) -> httpx.Response:
            return noisy.get(MISSING)

        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
            flooding = [pool.submit(flood, i) for i in range(120)]
            # the neighbour, meanwhile, stays within its burst
            polite = [quiet.get(MISSING) for _ in range(USER_BURST - 2)]
            floods = [f.result() for f in flooding]
    statuses = [r.status_code for r in floods]
    assert statuses.count(429) >= 60, statuses
    assert set(statuses) <= {404, 429}, statuses
    assert [r.status_code for r in polite] == [404] * len(polite)
    for response in polite:
        assert int(response.headers["RateLimit-Limit"]) == USER_BURST
        assert 0 <= int(response.headers["RateLimit-Remaining"]) < USER_BURST
        assert int(response.headers["RateLimit-Reset"]) >= 1
    refused = next(r for r in floods if r.status_code == 429)
    assert refused.headers["content-type"] == "application/problem+json"
    body = refused.json()
    assert body["type"].endswith("/rate-limited") and body["limit"] == "caller"
    assert f"{USER_RATE_RPS:g} requests/s (burst {USER_BURST})" in body["detail"]
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.headers["RateLimit-Limit"] == str(USER_BURST)
    assert refused.headers["RateLimit-Remaining"] == "0"
    # every rejection is audited (best effort: at most audit.MAX_PENDING in flight)
    rows = eventually(lambda: _audit_rows(limited.sut, abuser, "rate_limited") or None)
    assert rows[0]["outcome"] == "rejected" and "caller" in rows[0]["detail"]["reason"]
    assert not _audit_rows(limited.sut, neighbour, "rate_limited")


def _audit_rows(sut: ServiceUnderTest, tenant: str, action: str) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(sut.stack.postgres_dsn)
        try:
            await conn.execute(f'SET search_path TO "{sut.env["SERVICE_POSTGRES_SCHEMA"]}"')
            await conn.set_type_codec(
                "jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
            )
            return await conn.fetch(
                "SELECT outcome, detail FROM audit_log WHERE tenant_id = $1 AND action = $2",
                tenant,
                action,
            )
        finally:
            await conn.close()

    return asyncio.run(run())


def test_the_limiter_costs_a_redis_round_trip_per_lease_and_per_request_under_burst_100(
    limited: LimitedService,
) -> None:
    """A user here has a burst of 10: under 100, so one round trip per request, as
    before leases. An admin keeps the default burst (4,000): one round trip takes a
    lease of 20 tokens (SERVICE_RATELIMIT_LEASE_MAX_TOKENS), spent one per request."""
    stack = limited.sut.stack
    direct = redis.Redis(host="127.0.0.1", port=stack.redis_port)

    def scripts_run() -> int:
        stats = direct.info("commandstats")
        return sum(int(stats.get(f"cmdstat_{c}", {}).get("calls", 0)) for c in ("evalsha", "eval"))

    with limited.sut.client(_tenant()) as user, limited.sut.client(_tenant(), "admin") as admin:
        user.get(MISSING)  # loads the script once
        before = scripts_run()
        for _ in range(USER_BURST - 2):
            assert user.get(MISSING).status_code == 404
        per_request = scripts_run() - before
        admin.get(MISSING)  # takes the admin's first lease: 19 tokens left
        before = scripts_run()
        started = time.monotonic()
        for _ in range(40):
            assert admin.get(MISSING).status_code == 404
        elapsed_s = time.monotonic() - started
        per_lease = scripts_run() - before
    direct.close()
    assert per_request == USER_BURST - 2
    # 40 requests: 19 spent from the first lease, then two more leases; a lease unspent
    # after LEASE_TTL_S is dropped, so a slow box may take one more per second.
    assert 2 <= per_lease <= 2 + math.ceil(elapsed_s / LEASE_TTL_S), (per_lease, elapsed_s)


def test_two_workers_with_leases_admit_at_most_burst_plus_two_leases(
    stack: StackSettings,
) -> None:
    """Two limiters (two workers) on the real Redis, one caller flooding both: the
    admitted requests stay within burst + rate x duration + 2 x (lease - 1), and above
    burst - 2 x (lease - 1) (tokens leased, then left unspent)."""
    burst, lease = 1000, 20
    settings = RateLimitSettings(user_rate_rps=1, user_burst=burst, lease_max_tokens=lease)
    principal = Principal(subject="flood", tenant=_tenant(), role=Role.USER, via="jwt")

    async def flood() -> tuple[int, float]:
        client = aioredis.Redis(host="127.0.0.1", port=stack.redis_port)
        prefix = f"rltest{uuid.uuid4().hex[:8]}:"
        workers = [
            RateLimiter(settings, client, prefix=prefix, guard=None, redis_timeout_s=2.0)
            for _ in range(2)
        ]
        assert workers[0].lease_size((workers[0].tenant_quota(principal.tenant),
                                      workers[0].caller_quota(principal))) == lease  # fmt: skip
        started = time.monotonic()
        try:
            admitted = 0
            for _ in range(15):  # 1,500 requests, 100 at a time over both workers
                decisions = await asyncio.gather(
                    *(workers[i % 2].check(principal, write=False) for i in range(100))
                )
                admitted += sum(d.outcome == "allowed" for d in decisions)
            return admitted, time.monotonic() - started
        finally:
            await client.aclose()

    admitted, elapsed_s = asyncio.run(flood())
    slack = 2 * (lease - 1)
    assert burst - slack <= admitted <= burst + math.ceil(elapsed_s) + slack, (admitted, elapsed_s)


def test_without_redis_reads_fail_open_and_writes_fail_closed(limited: LimitedService) -> None:
    before = limited.decisions()
    with limited.sut.client(_tenant()) as client:
        limited.set_redis_reachable(False)
        try:
            reads = [client.get(MISSING) for _ in range(12)]
            write = client.post("/v1/documents", json=make_document())
        finally:
            limited.set_redis_reachable(True)
    assert [r.status_code for r in reads] == [404] * len(reads)
    assert "RateLimit-Limit" not in reads[0].headers  # nothing was counted
    assert write.status_code == 503, write.text
    assert write.json()["dependency"] == "redis"
    assert "SERVICE_RATELIMIT_REDIS_DOWN_WRITES" in write.json()["detail"]
    assert write.headers["Retry-After"] == "1"
    after = limited.decisions()
    grew = {k for k in after if after[k] > before.get(k, 0.0)}
    assert {"redis_unavailable_open", "redis_unavailable_closed"} <= grew, (before, after)


def test_a_slow_redis_link_limits_writes_instead_of_refusing_them(
    limited: LimitedService,
) -> None:
    """Every answer from Redis 120 ms late: longer than the reads' 100 ms timeout (the
    slow-network experiment's 40 ms made new pooled connections, several round trips,
    take as long). A write waits for its limiter (SERVICE_RATELIMIT_REDIS_WRITE_TIMEOUT_S,
    0.5 s) and is accepted, not refused with 503."""
    latency = Toxic(name="slow-redis", type="latency", attributes={"latency": 120})
    with (
        limited.sut.client(_tenant()) as client,
        ToxiproxyClient(limited.sut.stack.toxiproxy_url) as toxiproxy,
    ):
        # one keep-alive connection, one worker, whose Redis connection is pooled: each
        # write then costs the limiter one slow round trip
        assert client.post("/v1/documents", json=make_document()).status_code == 202
        toxiproxy.add_toxic(limited.redis_proxy, latency)
        try:
            writes = [client.post("/v1/documents", json=make_document()) for _ in range(5)]
        finally:
            toxiproxy.remove_toxic(limited.redis_proxy, latency.name)
    assert [w.status_code for w in writes] == [202] * len(writes), [w.text for w in writes]
