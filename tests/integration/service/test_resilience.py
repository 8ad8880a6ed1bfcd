"""Faults through Toxiproxy against a service of our own: breakers, the stale-cache
fallback, Redis outages, flaky OpenSearch connections, metrics and logs.

The service here reaches OpenSearch and Redis through PRIVATE proxies (created for this
module, deleted after it), so its toxics never touch the stack's shared proxies. It shares
the session service's namespace (schema, queue, alias), so the session indexer indexes its
writes. Its breakers open for 3 s instead of 30 s, to keep the test short.
"""

from __future__ import annotations

import concurrent.futures
import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from service_helpers import (
    ServiceUnderTest,
    eventually,
    free_port,
    make_document,
    private_proxies,
    start_uvicorn,
    stop_processes,
    wait_for,
    wait_ready,
)

from gameday.toxiproxy import Toxic, ToxiproxyClient

OPEN_DURATION_S = 3.0
SEARCH_TIMEOUT_S = 0.8
LATENCY_MS = 2000
JITTER_S = 0.4  # scheduling on a loaded 2-core machine


@dataclass
class FaultyService:
    sut: ServiceUnderTest
    opensearch_proxy: str
    redis_proxy: str
    postgres_proxy: str
    log_path: Path

    def toxiproxy(self) -> ToxiproxyClient:
        return ToxiproxyClient(self.sut.stack.toxiproxy_url)

    def metrics(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        text = httpx.get(f"{self.sut.url}/metrics", timeout=5).text
        return {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def metric(self, name: str, **labels: str) -> float:
        return self.metrics().get((name, frozenset(labels.items())), 0.0)

    def breakers(self, tenant: str) -> dict[str, dict[str, object]]:
        with self.sut.client(tenant, role="admin") as admin:
            response = admin.get("/v1/admin/breakers")
        assert response.status_code == 200, response.text
        body: dict[str, dict[str, object]] = response.json()
        return body


@pytest.fixture(scope="module")
def faulty(service_under_test: ServiceUnderTest) -> Iterator[FaultyService]:
    sut = service_under_test
    suffix = uuid.uuid4().hex[:6]
    port = free_port()
    metrics_dir = sut.logs / f"metrics-{suffix}"
    metrics_dir.mkdir()
    log_path = sut.logs / f"faulty-service-{suffix}.log"
    dependencies = ("opensearch", "redis", "postgres")
    with private_proxies(sut.stack, f"r4-{suffix}", dependencies) as proxies:
        env = {
            **sut.env,
            **proxies.service_env(),
            "SERVICE_RESILIENCE_BREAKER_OPEN_DURATION_S": str(OPEN_DURATION_S),
            "SERVICE_OPENSEARCH_SEARCH_TIMEOUT_S": str(SEARCH_TIMEOUT_S),
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        }
        url = f"http://127.0.0.1:{port}"
        proc: subprocess.Popen[bytes] | None = None
        try:
            proc = start_uvicorn(port, env, log_path)
            wait_ready(url, [proc], sut.logs)
            yield FaultyService(
                sut=replace(sut, url=url, env=env),
                opensearch_proxy=proxies.name("opensearch"),
                redis_proxy=proxies.name("redis"),
                postgres_proxy=proxies.name("postgres"),
                log_path=log_path,
            )
        finally:
            stop_processes(proc)
    text = log_path.read_text(errors="replace")
    for sign in ("unexpected error on", "Exception in ASGI application"):
        assert sign not in text, f"the faulty service answered a 500; see {log_path}"


def _searchable(client: httpx.Client, word: str) -> bool:
    response = client.get("/v1/search", params={"q": word})
    return response.status_code == 200 and response.json()["total"] >= 1


def _wait_closed(faulty: FaultyService, tenant: str, dependency: str) -> None:
    """Drives trial calls until the breaker is closed again (after a fault test)."""

    def closed() -> bool:
        with faulty.sut.client(tenant) as client:
            client.get("/v1/search", params={"q": f"probe-{uuid.uuid4().hex[:6]}"})
        return faulty.breakers(tenant)[dependency]["state"] == "closed"

    eventually(closed, timeout_s=4 * OPEN_DURATION_S, every_s=0.5)


def test_opensearch_latency_opens_the_breaker_and_search_falls_back_to_the_stale_cache(
    faulty: FaultyService,
) -> None:
    tenant = f"tenant-{uuid.uuid4().hex[:12]}"
    word = f"quokka{uuid.uuid4().hex[:6]}"
    with faulty.sut.client(tenant) as client:
        assert client.post("/v1/documents", json=make_document(title=word)).status_code == 202
        eventually(lambda: _searchable(client, word), timeout_s=20)
        faulty.sut.wait_for_invalidations(tenant, writes=1)
        client.get("/v1/search", params={"q": word})
        assert client.get("/v1/search", params={"q": word}).json()["source"] == "cache"
        # A write moves the tenant's generation: the fresh entry is gone, the last good
        # result stays (the indexer bumps it too, after its refresh: wait for its last bump).
        assert client.post("/v1/documents", json=make_document()).status_code == 202
        faulty.sut.wait_for_invalidations(tenant, writes=2)
        transitions_before = {
            (a, b): faulty.metric(
                "service_breaker_transitions_total", dependency="opensearch", **{"from": a, "to": b}
            )
            for a, b in (
                ("closed", "open"),
                ("open", "half_open"),
                ("half_open", "closed"),
                ("half_open", "open"),
            )
        }
        assert faulty.breakers(tenant)["opensearch"]["state"] == "closed"

        with faulty.toxiproxy() as toxiproxy:
            toxiproxy.add_toxic(
                faulty.opensearch_proxy,
                Toxic(name="slow", type="latency", attributes={"latency": LATENCY_MS}),
            )
        try:
            # The cached query answers degraded within the search timeout.
            started = time.monotonic()
            degraded = client.get("/v1/search", params={"q": word})
            elapsed_s = time.monotonic() - started
            assert degraded.status_code == 200, degraded.text
            assert degraded.json()["degraded"] == "stale-cache"
            assert degraded.headers["x-degraded"] == "stale-cache"
            assert word in {h["source"]["title"] for h in degraded.json()["hits"]}
            assert elapsed_s < SEARCH_TIMEOUT_S + JITTER_S, elapsed_s

            # Uncached queries time out until the window is half failures: then it opens.
            def uncached(i: int) -> int:
                with faulty.sut.client(tenant) as c:
                    return c.get("/v1/search", params={"q": f"nothing{i}{word}"}).status_code

            with concurrent.futures.ThreadPoolExecutor(10) as pool:
                statuses = list(pool.map(uncached, range(10)))
            assert set(statuses) == {503}, statuses
            breakers = faulty.breakers(tenant)
            assert breakers["opensearch"]["state"] == "open", breakers
            assert faulty.metric("service_breaker_state", dependency="opensearch") == 2.0

            # Open: uncached 503 at once, with Retry-After and a problem body.
            started = time.monotonic()
            refused = client.get("/v1/search", params={"q": f"other{word}"})
            assert time.monotonic() - started < 0.3
            assert refused.status_code == 503
            assert refused.headers["content-type"] == "application/problem+json"
            assert 1 <= int(refused.headers["retry-after"]) <= OPEN_DURATION_S
            assert refused.json()["dependency"] == "opensearch"
            started = time.monotonic()
            assert client.get("/v1/search", params={"q": word}).json()["degraded"]
            assert time.monotonic() - started < 0.3
            assert faulty.metric("service_cache_stale_serves_total") >= 2
        finally:
            with faulty.toxiproxy() as toxiproxy:
                toxiproxy.remove_toxic(faulty.opensearch_proxy, "slow")

        # After the open duration: half-open; five good trials close it.
        wait_for(
            lambda: faulty.breakers(tenant)["opensearch"]["state"] == "half_open",
            timeout_s=OPEN_DURATION_S + JITTER_S,
            what="the OpenSearch breaker half-open after its open duration",
        )
        assert faulty.metric("service_breaker_state", dependency="opensearch") == 1.0
        for i in range(5):
            response = client.get("/v1/search", params={"q": f"trial{i}{word}"})
            assert response.status_code == 200, response.text
        assert faulty.breakers(tenant)["opensearch"]["state"] == "closed"
        assert faulty.metric("service_breaker_state", dependency="opensearch") == 0.0
        fresh = client.get("/v1/search", params={"q": word})
        assert fresh.status_code == 200 and fresh.json()["degraded"] is None
        assert "x-degraded" not in fresh.headers

    moved = {
        pair: faulty.metric(
            "service_breaker_transitions_total",
            dependency="opensearch",
            **{"from": pair[0], "to": pair[1]},
        )
        - before
        for pair, before in transitions_before.items()
    }
    assert moved == {
        ("closed", "open"): 1,
        ("open", "half_open"): 1,
        ("half_open", "closed"): 1,
        ("half_open", "open"): 0,
    }


def test_searches_succeed_without_redis(faulty: FaultyService) -> None:
    tenant = f"tenant-{uuid.uuid4().hex[:12]}"
    word = f"wallaby{uuid.uuid4().hex[:6]}"
    with faulty.sut.client(tenant) as client:
        assert client.post("/v1/documents", json=make_document(title=word)).status_code == 202
        eventually(lambda: _searchable(client, word), timeout_s=20)
        with faulty.toxiproxy() as toxiproxy:
            toxiproxy.set_enabled(faulty.redis_proxy, False)
        try:
            statuses = []
            for i in range(15):
                q = word if i % 2 == 0 else f"{word} nothing{i}"
                response = client.get("/v1/search", params={"q": q})
                statuses.append(response.status_code)
                if i % 2 == 0:
                    assert word in {h["source"]["title"] for h in response.json()["hits"]}
            # Writes are refused meanwhile: the rate limiter cannot count them and fails
            # closed for writes (SERVICE_RATELIMIT_REDIS_DOWN_WRITES; test_rate_limits.py).
            write = client.post("/v1/documents", json=make_document())
            assert set(statuses) == {200}, statuses
            assert write.status_code == 503 and write.json()["dependency"] == "redis"
            assert faulty.metric("service_dependency_errors_total", dependency="redis") > 0
        finally:
            with faulty.toxiproxy() as toxiproxy:
                toxiproxy.set_enabled(faulty.redis_proxy, True)


def test_flaky_opensearch_connections_are_retried_without_5xx(faulty: FaultyService) -> None:
    tenant = f"tenant-{uuid.uuid4().hex[:12]}"
    words = [f"numbat{i}{uuid.uuid4().hex[:4]}" for i in range(10)]
    _wait_closed(faulty, tenant, "opensearch")
    retries_before = faulty.metric("service_dependency_retries_total", dependency="opensearch")
    statuses: list[int] = []

    def search(q: str) -> int:
        with faulty.sut.client(tenant) as c:
            return c.get("/v1/search", params={"q": q}).status_code

    with faulty.sut.client(tenant) as client:
        for word in words:  # the last good answers, should the breaker open
            assert client.get("/v1/search", params={"q": word}).status_code == 200
        for round_ in range(12):  # until a reset was retried (usually in the first rounds)
            retried = faulty.metric("service_dependency_retries_total", dependency="opensearch")
            if round_ >= 3 and retried > retries_before:
                break
            # Each round rolls the dice again for every pooled connection (30% are reset).
            assert client.post("/v1/documents", json=make_document()).status_code == 202
            with faulty.toxiproxy() as toxiproxy:
                toxiproxy.add_toxic(
                    faulty.opensearch_proxy,
                    Toxic(name="flaky", type="reset_peer", toxicity=0.3,
                          attributes={"timeout": 0}),
                )  # fmt: skip
            try:
                with concurrent.futures.ThreadPoolExecutor(5) as pool:
                    statuses += list(pool.map(search, words))
            finally:
                with faulty.toxiproxy() as toxiproxy:
                    toxiproxy.remove_toxic(faulty.opensearch_proxy, "flaky")
    assert all(s == 200 for s in statuses), statuses
    assert faulty.metric("service_dependency_retries_total", dependency="opensearch") > (
        retries_before
    )


def test_a_4xx_is_never_retried(faulty: FaultyService) -> None:
    tenant = f"tenant-{uuid.uuid4().hex[:12]}"
    before = faulty.metrics()
    with faulty.sut.client(tenant) as client:
        assert client.get("/v1/search", params={"size": 1000}).status_code == 422
        assert client.get("/v1/search", params={"q": "x", "nope": "1"}).status_code == 422
    with faulty.sut.client() as anonymous:
        assert anonymous.get("/v1/search", params={"q": "x"}).status_code == 401
    after = faulty.metrics()
    for name in ("service_dependency_retries_total", "service_dependency_errors_total"):
        for dep in ("opensearch", "redis", "postgres"):
            key = (name, frozenset({("dependency", dep)}))
            assert after.get(key, 0.0) == before.get(key, 0.0), (name, dep)
    key = (
        "service_http_requests_total",
        frozenset({("route", "/v1/search"), ("method", "GET"), ("status_class", "4xx")}),
    )
    assert after[key] - before.get(key, 0.0) == 3


def test_metrics_parse_and_logs_are_json_with_the_request_id(faulty: FaultyService) -> None:
    tenant = f"tenant-{uuid.uuid4().hex[:12]}"
    request_id = f"req-{uuid.uuid4().hex}"
    with faulty.sut.client(tenant) as client:
        response = client.get(
            "/v1/search", params={"q": "anything"}, headers={"X-Request-ID": request_id}
        )
        assert response.headers["x-request-id"] == request_id
        generated = client.get("/v1/search", params={"q": "anything"}).headers["x-request-id"]
        assert generated and generated != request_id
    families = {f.name for f in text_string_to_metric_families(httpx.get(
        f"{faulty.sut.url}/metrics", timeout=5).text)}  # fmt: skip
    assert {
        "service_http_requests",
        "service_http_request_duration_seconds",
        "service_dependency_call_duration_seconds",
        "service_breaker_state",
        "service_breaker_transitions",
        "service_cache_lookups",
    } <= families

    def logged() -> list[dict[str, object]]:
        lines = faulty.log_path.read_text().splitlines()
        docs = [json.loads(line) for line in lines if line.strip()]  # every line is JSON
        return [d for d in docs if d.get("request_id") == request_id]

    mine = eventually(logged, timeout_s=5)
    access = [d for d in mine if d["logger"] == "service.access"]
    assert len(access) == 1
    assert access[0]["tenant"] == tenant
    assert access[0]["route"] == "/v1/search"
    assert access[0]["status"] == 200
    assert isinstance(access[0]["latency_ms"], float)


@pytest.fixture(autouse=True)
def _opensearch_breaker_closed_after(faulty: FaultyService) -> Iterator[None]:
    """Each test starts with both proxies up and the OpenSearch breaker closed."""
    yield
    with faulty.toxiproxy() as toxiproxy:
        for proxy in (faulty.opensearch_proxy, faulty.redis_proxy, faulty.postgres_proxy):
            toxiproxy.set_enabled(proxy, True)
    _wait_closed(faulty, f"tenant-{uuid.uuid4().hex[:12]}", "opensearch")


def test_probes_list_every_dependency_with_its_breaker(faulty: FaultyService) -> None:
    base = faulty.sut.url
    assert httpx.get(f"{base}/health/live", timeout=5).json() == {"status": "ok"}
    startup = httpx.get(f"{base}/health/startup", timeout=5)
    assert startup.status_code == 200
    assert startup.json()["migrations_applied"] and startup.json()["pools_created"]
    ready = httpx.get(f"{base}/health/ready", timeout=5)
    assert ready.status_code == 200, ready.text
    deps = ready.json()["dependencies"]
    assert set(deps) == {"postgres", "redis", "opensearch", "rabbitmq"}
    for dep in deps.values():
        assert set(dep) == {"status", "breaker", "last_error"}
        assert dep["breaker"] in ("closed", "half_open", "open")
    with faulty.toxiproxy() as toxiproxy:
        toxiproxy.set_enabled(faulty.redis_proxy, False)
    try:
        # The cache is not needed to serve: ready, but degraded, with Redis's error.
        degraded = httpx.get(f"{base}/health/ready", timeout=5)
        assert degraded.status_code == 200
        assert degraded.json()["status"] == "degraded"
        assert degraded.json()["dependencies"]["redis"]["status"] == "failed"
        assert degraded.json()["dependencies"]["redis"]["last_error"]
    finally:
        with faulty.toxiproxy() as toxiproxy:
            toxiproxy.set_enabled(faulty.redis_proxy, True)
    assert httpx.get(f"{base}/v1/health/ready", timeout=5).status_code == 200


def test_writes_fail_fast_with_503_while_postgresql_is_down(faulty: FaultyService) -> None:
    tenant = f"tenant-{uuid.uuid4().hex[:12]}"
    with faulty.sut.client(tenant) as client:
        assert client.post("/v1/documents", json=make_document()).status_code == 202
        with faulty.toxiproxy() as toxiproxy:
            toxiproxy.set_enabled(faulty.postgres_proxy, False)
        try:
            timings: list[tuple[int, float, str | None]] = []
            for _ in range(14):
                started = time.monotonic()
                response = client.post("/v1/documents", json=make_document())
                timings.append(
                    (
                        response.status_code,
                        time.monotonic() - started,
                        response.headers.get("retry-after"),
                    )
                )
            assert {status for status, _, _ in timings} == {503}, timings
            assert all(retry_after for _, _, retry_after in timings), timings
            assert max(elapsed for _, elapsed, _ in timings) < 1.5, timings
            assert faulty.breakers(tenant)["postgres"]["state"] == "open"
            # Once open: refused without trying.
            assert max(elapsed for _, elapsed, _ in timings[-4:]) < 0.2, timings
            # Searches do not need PostgreSQL.
            assert client.get("/v1/search", params={"q": "x"}).status_code == 200
        finally:
            with faulty.toxiproxy() as toxiproxy:
                toxiproxy.set_enabled(faulty.postgres_proxy, True)

        def closed_after_a_write() -> bool:
            """Half-open needs five good trial writes; each poll makes one."""
            client.post("/v1/documents", json=make_document())
            return faulty.breakers(tenant)["postgres"]["state"] == "closed"

        eventually(closed_after_a_write, timeout_s=4 * OPEN_DURATION_S, every_s=0.2)
        assert client.post("/v1/documents", json=make_document()).status_code == 202
