"""Redis behind Sentinel (`stack up --redis-sentinel`) and the service's failover with
it, on a private small stack (toxiproxy, redis, redis-replica, three Sentinels) with its
own state dir and ports: a failover changes which server is the primary for good, so
the session's stack is never failed over. The service under test uses the session
stack for PostgreSQL, RabbitMQ and OpenSearch (in a namespace of its own) and finds its
Redis through the private Sentinels.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import redis

from gameday.chaos.events import configuration_for
from gameday.chaos.redis_failover import kill_redis_primary, restart_redis
from gameday.settings import PROJECT_ROOT, StackSettings
from gameday.stack import process
from gameday.stack.redis_sentinel import (
    DOWN_AFTER_MS,
    FAILOVER_TIMEOUT_MS,
    SENTINEL_MASTER,
    primary_component,
)
from gameday.stack.service_env import service_env
from gameday.toxiproxy import ToxiproxyClient
from service.namespace import drop_namespace, namespace_env
from tests.integration.chaos.evidence import READS, SERVER_ERRORS, Run, total
from tests.integration.own_service import gameday_cli
from tests.integration.service.service_helpers import (
    _handed_out,
    eventually,
    free_port,
    make_document,
    start_uvicorn,
    stop_processes,
    wait_for,
    wait_ready,
)
from tests.integration.session_servers import straight_env

GAMEDAY = [sys.executable, "-m", "gameday.cli"]
SERVERS = ("redis", "redis-replica")
SENTINELS = ("redis-sentinel-0", "redis-sentinel-1", "redis-sentinel-2")
SUBSET = ",".join(("toxiproxy", *SERVERS, *SENTINELS))
PORT_NAMES = (
    "GAMEDAY_TOXIPROXY_PORT",
    "GAMEDAY_REDIS_PORT",
    "GAMEDAY_REDIS_PROXY_PORT",
    "GAMEDAY_REDIS_REPLICA_PORT",
    "GAMEDAY_REDIS_REPLICA_PROXY_PORT",
)
# Sentinel i listens on REDIS_SENTINEL_PORT + i, its proxy on _PROXY_PORT + i: three in a row.
SENTINEL_PORT_NAMES = ("GAMEDAY_REDIS_SENTINEL_PORT", "GAMEDAY_REDIS_SENTINEL_PROXY_PORT")
# A write refused while no primary answers: the limiter's 0.5 s write timeout, plus the
# pool's wait and the shared 2-core machine's jitter; a request that waited for the
# failover (3 s and more) is far above it.
WRITE_ANSWER_MAX_S = 1.5


def _consecutive_free_ports(count: int) -> int:
    """The first of `count` free ports in a row, all kept from later free_port() calls."""
    for _ in range(200):
        first = free_port()
        rest = [first + i for i in range(1, count)]
        if all(p not in _handed_out and _bindable(p) for p in rest):
            _handed_out.update(rest)
            return first
    raise RuntimeError("no run of free ports")


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ports() -> dict[str, int]:
    ports = {name: free_port() for name in PORT_NAMES}
    ports |= {name: _consecutive_free_ports(3) for name in SENTINEL_PORT_NAMES}
    return ports


def gameday(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GAMEDAY, *args], env=env, capture_output=True, text=True, timeout=240, check=False
    )


@pytest.fixture(scope="module")
def sentinel_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """toxiproxy, a Redis primary, its replica and three Sentinels, in a state dir of
    their own; yields the environment that makes `gameday` commands use them. Their logs
    are kept under pytest's temporary dir (Sentinel logs every vote and switch)."""
    state = Path(tempfile.mkdtemp(prefix="gameday-sentinel-"))
    ports = _ports()
    env = straight_env(
        {**os.environ, "GAMEDAY_STATE_DIR": str(state), **{k: str(v) for k, v in ports.items()}}
    )
    try:
        up = gameday("stack", "up", "--redis-sentinel", "--only", SUBSET, env=env)
        assert up.returncode == 0, up.stdout + up.stderr
        yield env
    finally:
        gameday("stack", "down", env=env)
        logs = state / "logs"
        if logs.is_dir():
            shutil.copytree(
                logs, tmp_path_factory.mktemp("sentinel-stack-logs"), dirs_exist_ok=True
            )
        gameday("stack", "down", "--purge", env=env)
        shutil.rmtree(state, ignore_errors=True)


def _settings(env: dict[str, str]) -> StackSettings:
    names = PORT_NAMES + SENTINEL_PORT_NAMES
    return StackSettings(
        state_dir=Path(env["GAMEDAY_STATE_DIR"]),
        **{k.removeprefix("GAMEDAY_").lower(): int(env[k]) for k in names},
        redis_sentinel=True,
    )


@pytest.fixture
def harness_env(sentinel_stack: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> StackSettings:
    """This process's GAMEDAY_* variables point at the private stack (the chaos
    providers read their StackSettings from the environment, as in `gameday run`)."""
    for name, value in sentinel_stack.items():
        if name.startswith("GAMEDAY_"):
            monkeypatch.setenv(name, value)
    return _settings(sentinel_stack)


def _redis(settings: StackSettings, port: int) -> redis.Redis:
    return redis.Redis(host=settings.host, port=port, socket_timeout=2, socket_connect_timeout=2)


def _proxy_port(settings: StackSettings, component: str) -> int:
    return {"redis": settings.redis_proxy_port, "redis-replica": settings.redis_replica_proxy_port}[
        component
    ]


def _sentinel_ports(settings: StackSettings) -> list[int]:
    return [settings.redis_sentinel_proxy_port + i for i in range(3)]


@dataclass
class SentinelService:
    url: str
    process: subprocess.Popen[bytes]
    prefix: str


@pytest.fixture(scope="module")
def sentinel_service(
    sentinel_stack: dict[str, str],
    session_servers: StackSettings,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SentinelService]:
    """A namespaced service whose Redis is the private stack's, found through Sentinel."""
    private = _settings(sentinel_stack)
    logs = tmp_path_factory.mktemp("sentinel-service")
    namespace = f"t{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        **service_env(session_servers),
        **{k: v for k, v in service_env(private).items() if k.startswith("SERVICE_REDIS_")},
        **namespace_env(namespace),
        "SERVICE_OUTBOX_POLL_INTERVAL_S": "0.2",
        "PROMETHEUS_MULTIPROC_DIR": str(logs),
    }
    assert env["SERVICE_REDIS_SENTINELS"].count(",") == 2, env["SERVICE_REDIS_SENTINELS"]
    port = free_port()
    proc = start_uvicorn(port, env, logs / "service.log")
    try:
        wait_ready(f"http://127.0.0.1:{port}", [proc], logs)
        yield SentinelService(url=f"http://127.0.0.1:{port}", process=proc, prefix=f"{namespace}:")
    finally:
        stop_processes(proc)
        drop_namespace(session_servers, env)


def _token(tenant: str) -> str:
    from service.settings import AuthSettings
    from service.tenants.auth import issue_token

    return issue_token(AuthSettings(), tenant=tenant, role="user", ttl_s=600)


def _client(url: str, tenant: str = "acme") -> httpx.Client:
    headers = {"Authorization": f"Bearer {_token(tenant)}"}
    return httpx.Client(base_url=url, headers=headers, timeout=10.0)


def test_sentinels_name_proxies_and_the_service_reaches_redis_only_through_toxiproxy(
    sentinel_stack: dict[str, str], sentinel_service: SentinelService
) -> None:
    settings = _settings(sentinel_stack)
    proxy_ports = {settings.redis_proxy_port, settings.redis_replica_proxy_port}
    for port in _sentinel_ports(settings):
        sentinel = _redis(settings, port)
        try:
            master = sentinel.sentinel_master(SENTINEL_MASTER)
            replicas = sentinel.sentinel_slaves(SENTINEL_MASTER)
            others = sentinel.sentinel_sentinels(SENTINEL_MASTER)
        finally:
            sentinel.close()
        assert int(master["port"]) in proxy_ports, master  # what a client is given
        assert int(master["down-after-milliseconds"]) == DOWN_AFTER_MS
        assert int(master["failover-timeout"]) == FAILOVER_TIMEOUT_MS
        assert {int(r["port"]) for r in replicas} == proxy_ports - {int(master["port"])}
        assert {int(s["port"]) for s in others} == set(_sentinel_ports(settings)) - {port}

    with _client(sentinel_service.url) as client:
        for i in range(5):  # cache and rate limiter both talk to Redis
            answer = client.get("/v1/search", params={"q": f"through proxies {i}"})
            assert answer.status_code == 200, answer.text
    # Every connection to either Redis server comes from Toxiproxy: the service's (its
    # pool keeps them open), the Sentinels', the replication link and this test's own.
    toxiproxy = process.read_tracked(settings.run_dir, "toxiproxy")
    assert toxiproxy is not None
    service = psutil.Process(sentinel_service.process.pid)
    for port in sorted(proxy_ports):
        server = _redis(settings, port)
        try:
            peers = {c["addr"] for c in server.client_list()}
            # looked at while this connection is still open
            toxiproxy_ends = _local_ends([psutil.Process(toxiproxy.pid)])
            service_ends = _local_ends([service, *service.children(recursive=True)])
        finally:
            server.close()
        assert peers and peers <= toxiproxy_ends, (port, peers - toxiproxy_ends)
        assert not peers & service_ends, (port, peers & service_ends)


def _local_ends(processes: list[psutil.Process]) -> set[str]:
    return {
        f"{c.laddr.ip}:{c.laddr.port}" for p in processes for c in p.net_connections(kind="tcp")
    }


@dataclass
class Answer:
    sent: float  # epoch
    took_s: float
    status: int | None
    retry_after: str | None


def _write_until(client: httpx.Client, stop: threading.Event, out: list[Answer]) -> None:
    while not stop.is_set():
        sent, started = time.time(), time.monotonic()
        try:
            answer = client.post("/v1/documents", json=make_document())
            status, retry_after = answer.status_code, answer.headers.get("retry-after")
        except httpx.HTTPError:
            status, retry_after = None, None
        out.append(Answer(sent, time.monotonic() - started, status, retry_after))
        stop.wait(0.05)


def _event(run_dir: Path, kind: str) -> dict[str, Any]:
    lines = (run_dir / "events.jsonl").read_text().splitlines()
    return next(e for e in map(json.loads, lines) if e["type"] == kind)


def _keys(settings: StackSettings, port: int, pattern: str) -> list[bytes]:
    server = _redis(settings, port)
    try:
        return list(server.scan_iter(match=pattern, count=1000))
    finally:
        server.close()


def test_writes_fail_closed_fast_while_the_primary_is_killed_then_resume_on_the_new_one(
    harness_env: StackSettings, sentinel_service: SentinelService, tmp_path: Path
) -> None:
    settings = harness_env
    old = primary_component(settings)
    assert old in SERVERS
    run_dir = configuration_for(tmp_path)
    try:
        answers: list[Answer] = []
        stop = threading.Event()
        with _client(sentinel_service.url) as client:
            assert client.post("/v1/documents", json=make_document()).status_code == 202
            writer = threading.Thread(target=_write_until, args=(client, stop, answers))
            writer.start()
            try:
                wait_for(lambda: len(answers) >= 5, timeout_s=10, what="writes before the kill")
                fault = kill_redis_primary(wait_failover_s=30, configuration=run_dir)
                assert fault == "redis-primary-killed"
                # the harness's own timeline: the SIGKILL, and Sentinel naming the new primary
                killed_at = _event(tmp_path, "fault_injected")["epoch"]
                promoted = _event(tmp_path, "replica_promoted")
                switched_at = killed_at + promoted["attributes"]["sentinel_switched_s"]
                # Writes resume on the new primary within seconds, not after the Redis
                # breaker's 30 s open period: the service resets it on the switch.
                wait_for(
                    lambda: any(a.status == 202 for a in answers if a.sent > switched_at),
                    timeout_s=10,
                    what="a write acknowledged after the failover",
                )
            finally:
                stop.set()
                writer.join(timeout=30)
        new = primary_component(settings)
        assert new in SERVERS and new != old
        assert sentinel_service.process.poll() is None  # the same process: no restart

        during = [a for a in answers if killed_at <= a.sent]
        assert {a.status for a in during} <= {202, 503}, [
            a for a in during if a.status not in (202, 503)
        ]
        refused = [a for a in during if a.status == 503]
        assert refused, "no write was refused while no primary answered"
        assert all(a.retry_after and int(a.retry_after) >= 1 for a in refused), refused
        slowest = max(a.took_s for a in during)
        assert slowest < WRITE_ANSWER_MAX_S, slowest  # no request waited for the failover
        # Nothing is acknowledged while no primary can count it (Sentinel names the new one
        # up to a poll, 0.1 s, before the harness sees it: 0.5 s of margin).
        blind = [a for a in during if a.status == 202 and a.sent + a.took_s < switched_at - 0.5]
        assert not blind, (promoted, blind)
        resumed = min(a.sent for a in during if a.status == 202 and a.sent > switched_at)
        assert resumed - switched_at < 5.0, resumed - switched_at

        # The cache and the rate limiter write into the new primary: a tenant seen only now.
        tenant = f"sentinel-{uuid.uuid4().hex[:8]}"
        new_port = _proxy_port(settings, new)
        with _client(sentinel_service.url, tenant) as client:

            def searched_into_new_primary() -> bool:
                assert client.get("/v1/search", params={"q": "after failover"}).status_code == 200
                limiter = _keys(settings, new_port, f"{sentinel_service.prefix}rl:t:{tenant}")
                cache = _keys(settings, new_port, f"{sentinel_service.prefix}search:{tenant}:*")
                return bool(limiter and cache)

            eventually(searched_into_new_primary, timeout_s=10, every_s=0.3)
    finally:  # the rollback, whatever failed: the next test needs both servers
        restarted = restart_redis(configuration=run_dir)

    # The rollback: the killed server comes back as a replica of the new primary.
    assert restarted == [old]
    server = _redis(settings, _proxy_port(settings, old))
    try:
        replication = server.info("replication")
    finally:
        server.close()
    assert replication["role"] == "slave", replication
    assert int(replication["master_port"]) == new_port, replication
    assert primary_component(settings) == new


def test_the_primary_kill_experiment_fails_over_with_no_5xx_under_read_only(
    sentinel_stack: dict[str, str], sentinel_service: SentinelService, tmp_path: Path
) -> None:
    """experiments/redis-primary-kill.json under the read_only mix against the service
    above; the harness (kill, failover timing, restart) acts on the private stack."""
    settings = _settings(sentinel_stack)
    old = primary_component(settings)
    assert old in SERVERS
    primary = _redis(settings, _proxy_port(settings, old))
    try:  # a replica to promote (the test before restarted the server it killed)
        assert primary.info("replication")["connected_slaves"] == 1
    finally:
        primary.close()
    out = tmp_path / "run"
    result = gameday_cli(
        "run",
        "--scenario",
        "read_only",
        "--rate",
        "10",
        "--target",
        sentinel_service.url,
        "--experiment",
        str(PROJECT_ROOT / "experiments" / "redis-primary-kill.json"),
        "--var",
        "fault_s=5",
        "--metrics-port",
        "0",
        "--out",
        str(out),
        env=sentinel_stack,
        timeout=180,
    )
    run = Run(out, returncode=result.returncode, output=result.stdout + result.stderr)
    # A verdict (0 or 1). On a machine so busy that the load generator itself was
    # starved, the run's verdict is ERROR (exit 2) and says so; the claims below do not
    # rest on the generator's timing (the failover is timed by the harness, the reads
    # are counted by status), so they are still checked, never skipped.
    starved = result.returncode == 2 and "generator was the bottleneck" in run.output
    assert result.returncode in (0, 1) or starved, run.output
    assert "experiment redis-primary-kill: PASS" in run.output, run.output
    assert sentinel_service.process.poll() is None  # no restart
    outcome = run.outcome
    assert outcome["steady_state_before"] is True and outcome["verdict"] == "pass", outcome

    # The failover time on the report: kill -> the new primary takes a write.
    promoted = run.events("replica_promoted")
    assert len(promoted) == 1 and promoted[0]["target"] == "redis", promoted
    took_s = promoted[0]["attributes"]["took_s"]
    assert DOWN_AFTER_MS / 1000 < took_s < 30, took_s  # Sentinel waits down-after first
    # one fault window, the one the harness recorded (none inferred beside it)
    assert [e["name"] for e in run.summary["experiments"]] == ["redis-primary-killed"]
    experiment = run.experiment("redis-primary-killed")
    assert experiment["target"] == "redis" and experiment["inferred"] is None
    failover = experiment["failover"]
    assert failover["promoted_after_s"] == pytest.approx(took_s, abs=0.5), failover

    # No 5xx on reads in the fault window; its own objectives (slo.yaml) held.
    start, end = run.window("redis-primary-killed")
    reads = run.rows(READS, start, end)
    assert total(reads, "requests") > 0 and total(reads, *SERVER_ERRORS) == 0, reads
    own = run.own_objectives("redis-primary-killed")
    assert len(own) >= 3, sorted(own)
    broken = {n: o["measured"] for n, o in own.items() if o["gating"] and not o["passed"]}
    assert not broken, broken

    # Rollback: the killed server runs again, as a replica of the new primary.
    new = primary_component(settings)
    assert new in SERVERS and new != old
    server = _redis(settings, _proxy_port(settings, str(old)))
    try:
        replication = server.info("replication")
    finally:
        server.close()
    assert replication["role"] == "slave" and replication["master_link_status"] == "up"
    with ToxiproxyClient(settings.toxiproxy_url) as toxiproxy:
        proxies = toxiproxy.proxies()
    assert all(p.enabled and not p.toxics for p in proxies.values()), proxies
