"""PgBouncer in transaction pooling mode (`stack up --pgbouncer`) and the service behind
it, on a private small stack (toxiproxy, postgres, pgbouncer) with its own state dir and
ports (264xx): the experiments kill PgBouncer and slow its side of PostgreSQL, which the
session's stack must never see. The services under test use the session stack for
Redis, RabbitMQ and OpenSearch (in namespaces of their own) and the private stack for
PostgreSQL, through PgBouncer; migrations and retention's lock go straight to it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest

from gameday.settings import PROJECT_ROOT, StackSettings
from gameday.stack import supervisor
from gameday.stack.pgbouncer import QUERY_WAIT_TIMEOUT_S
from gameday.stack.service_env import service_env
from gameday.toxiproxy import Toxic, ToxiproxyClient
from service.migrations import apply_migrations
from service.namespace import drop_namespace, namespace_env
from tests.integration.chaos.evidence import READS, SERVER_ERRORS, WRITES, Run, total
from tests.integration.own_service import gameday_cli
from tests.integration.service.service_helpers import (
    eventually,
    free_port,
    make_document,
    start_uvicorn,
    stop_processes,
    wait_ready,
)
from tests.integration.session_servers import straight_env

GAMEDAY = [sys.executable, "-m", "gameday.cli"]
SUBSET = "toxiproxy,postgres,pgbouncer"
PORTS = {
    "GAMEDAY_TOXIPROXY_PORT": 26474,
    "GAMEDAY_POSTGRES_PORT": 26432,
    "GAMEDAY_POSTGRES_PROXY_PORT": 26442,
    "GAMEDAY_PGBOUNCER_PORT": 26434,
    "GAMEDAY_PGBOUNCER_PROXY_PORT": 26444,
    "GAMEDAY_PGBOUNCER_UPSTREAM_PROXY_PORT": 26445,
}
STATEMENT_TIMEOUT_MS = 2000
# The breaker's 3 s (below), a second 3 s when its half-open try falls inside the fault
# (seen: closed 4.6 s after the removal, and 15 s then left a 5xx in the after-check's
# window), and a clean 10 s window.
SETTLE = ("--var", "settle_s=18")
AVAILABILITY = "availability [run]"
HANG_MS = 2500.0  # the 2 s statement timeout + margin: slower is a request left hanging


def gameday(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GAMEDAY, *args], env=env, capture_output=True, text=True, timeout=240, check=False
    )


def _settings(env: dict[str, str]) -> StackSettings:
    return StackSettings(
        state_dir=Path(env["GAMEDAY_STATE_DIR"]),
        **{k.removeprefix("GAMEDAY_").lower(): int(env[k]) for k in PORTS},
        pgbouncer=True,
    )


@pytest.fixture(scope="module")
def bouncer_stack() -> Iterator[dict[str, str]]:
    """toxiproxy, postgres and pgbouncer on PORTS, in a state dir of their own; yields
    the environment that makes `gameday` commands use them."""
    # Not under pytest's basetemp (another session may reset it to 0700, locking the
    # postgres user out), as tests/integration/stack/test_pg_replica.py does.
    state = Path(tempfile.mkdtemp(prefix="gameday-pgbouncer-"))
    env = straight_env(
        {**os.environ, "GAMEDAY_STATE_DIR": str(state), **{k: str(v) for k, v in PORTS.items()}}
    )
    try:
        up = gameday("stack", "up", "--pgbouncer", "--only", SUBSET, env=env)
        assert up.returncode == 0, up.stdout + up.stderr
        yield env
    finally:
        gameday("stack", "down", "--purge", env=env)
        shutil.rmtree(state, ignore_errors=True)


def _pooled_env(private: StackSettings, stack: StackSettings) -> dict[str, str]:
    """The session stack's Redis, RabbitMQ and OpenSearch; the private PostgreSQL
    through PgBouncer, exactly as `service_env` gives it with `--pgbouncer`."""
    postgres = {k: v for k, v in service_env(private).items() if k.startswith("SERVICE_POSTGRES")}
    return {**os.environ, **service_env(stack), **postgres}


def _run_sql(port: int, sql: str, *args: object) -> object:
    async def run() -> object:
        conn = await asyncpg.connect(
            host="127.0.0.1", port=port, user="gameday", password="gameday", database="gameday"
        )
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()

    return asyncio.run(run())


def _migrate_public(private: StackSettings) -> None:
    """The default schema's tables, so a service that lost its schema would write there
    without an error: only the count can tell."""

    async def run() -> None:
        conn = await asyncpg.connect(private.postgres_dsn)
        try:
            await apply_migrations(conn, "public")
        finally:
            await conn.close()

    asyncio.run(run())


def _token(tenant: str, role: str = "user") -> str:
    from service.settings import AuthSettings
    from service.tenants.auth import issue_token

    return issue_token(AuthSettings(), tenant=tenant, role=role, ttl_s=600)


def test_up_with_pgbouncer_pools_transactions_behind_its_two_proxies(
    bouncer_stack: dict[str, str],
) -> None:
    private = _settings(bouncer_stack)
    statuses = supervisor.status(private)
    found = {c["name"]: c for c in json.loads(supervisor.status_json(statuses))["components"]}
    bouncer = found["pgbouncer"]
    assert bouncer["healthy"] is True and bouncer["pid"] is not None, bouncer
    assert bouncer["proxy_port"] == PORTS["GAMEDAY_PGBOUNCER_PROXY_PORT"]
    with ToxiproxyClient(private.toxiproxy_url) as client:
        proxies = client.proxies()
    assert proxies["pgbouncer"].upstream == f"127.0.0.1:{PORTS['GAMEDAY_PGBOUNCER_PORT']}"
    upstream = proxies["pgbouncer-postgres"]
    assert upstream.listen == f"127.0.0.1:{PORTS['GAMEDAY_PGBOUNCER_UPSTREAM_PROXY_PORT']}"
    assert upstream.upstream == f"127.0.0.1:{PORTS['GAMEDAY_POSTGRES_PORT']}"
    assert json.loads((private.run_dir / "stack.json").read_text())["pgbouncer"] is True
    ini = (private.data_dir / "pgbouncer" / "pgbouncer.ini").read_text()
    assert "pool_mode = transaction" in ini
    assert f"query_wait_timeout = {QUERY_WAIT_TIMEOUT_S}" in ini
    assert QUERY_WAIT_TIMEOUT_S * 1000 < STATEMENT_TIMEOUT_MS


def test_pgbouncer_refuses_a_search_path_sent_at_startup_instead_of_ignoring_it(
    bouncer_stack: dict[str, str],
) -> None:
    """Ignored, it would silently give a namespaced service the default schema."""

    async def connect() -> None:
        conn = await asyncpg.connect(
            host="127.0.0.1",
            port=PORTS["GAMEDAY_PGBOUNCER_PROXY_PORT"],
            user="gameday",
            password="gameday",
            database="gameday",
            statement_cache_size=0,
            server_settings={"search_path": "elsewhere"},
        )
        await conn.close()

    with pytest.raises(asyncpg.PostgresError, match="unsupported startup parameter: search_path"):
        asyncio.run(connect())


@dataclass
class PooledService:
    url: str
    process: subprocess.Popen[bytes]
    env: dict[str, str]


@pytest.fixture
def namespaced_service(
    bouncer_stack: dict[str, str], session_servers: StackSettings, tmp_path: Path
) -> Iterator[PooledService]:
    private = _settings(bouncer_stack)
    _migrate_public(private)
    env = {
        **_pooled_env(private, session_servers),
        **namespace_env(f"t{uuid.uuid4().hex[:10]}"),
        "SERVICE_RESILIENCE_BREAKER_OPEN_DURATION_S": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
    }
    port = free_port()
    proc = start_uvicorn(port, env, tmp_path / "service.log")
    try:
        wait_ready(f"http://127.0.0.1:{port}", [proc], tmp_path)
        yield PooledService(url=f"http://127.0.0.1:{port}", process=proc, env=env)
    finally:
        stop_processes(proc)
        drop_namespace(private, env)  # its schema on the private PostgreSQL
        drop_namespace(session_servers, {**env, "SERVICE_POSTGRES_SCHEMA": "none_here"})


def _where(schema_port: int, ids: list[str]) -> dict[str, int]:
    """For each schema with a documents table: how many of `ids` it holds."""
    sql = "select table_schema from information_schema.tables where table_name = 'documents'"

    async def run() -> dict[str, int]:
        conn = await asyncpg.connect(
            host="127.0.0.1",
            port=schema_port,
            user="gameday",
            password="gameday",
            database="gameday",
        )
        try:
            schemas = [r[0] for r in await conn.fetch(sql)]
            return {
                s: int(
                    await conn.fetchval(
                        f'select count(*) from "{s}".documents where id::text = any($1)', ids
                    )
                )
                for s in schemas
            }
        finally:
            await conn.close()

    return asyncio.run(run())


def test_a_namespaced_service_behind_pgbouncer_writes_only_into_its_own_schema(
    bouncer_stack: dict[str, str], namespaced_service: PooledService
) -> None:
    schema = namespaced_service.env["SERVICE_POSTGRES_SCHEMA"]
    assert namespaced_service.env["SERVICE_POSTGRES_DSN"].endswith(
        f":{PORTS['GAMEDAY_PGBOUNCER_PROXY_PORT']}/gameday"
    )
    headers = {"Authorization": f"Bearer {_token('acme', role='admin')}"}
    with httpx.Client(base_url=namespaced_service.url, headers=headers, timeout=10.0) as client:
        ids = []
        for i in range(5):
            created = client.post("/v1/documents", json=make_document(title=f"pooled {i}"))
            assert created.status_code == 202, created.text
            ids.append(created.json()["id"])
        for doc_id in ids:
            assert client.get(f"/v1/documents/{doc_id}").status_code == 200
        # Retention's session lock, on its own direct connection: the round runs.
        ran = client.post("/v1/admin/retention/run")
        assert ran.status_code == 200, ran.text
        assert ran.json()["skipped"] is False, ran.json()

        found = _where(PORTS["GAMEDAY_POSTGRES_PROXY_PORT"], ids)
        assert found.get(schema) == len(ids), found
        assert {s: n for s, n in found.items() if s != schema and n} == {}, found
        assert "public" in found  # the default schema was there to be written by mistake

        # The pool goes through PgBouncer: cut its proxy, writes fail (fast, 503).
        with ToxiproxyClient(_settings(bouncer_stack).toxiproxy_url) as toxiproxy:
            toxiproxy.set_enabled("pgbouncer", False)
            try:
                cut = client.post("/v1/documents", json=make_document())
            finally:
                toxiproxy.set_enabled("pgbouncer", True)
        assert cut.status_code == 503, cut.text


def _timed_write(client: httpx.Client) -> tuple[int, float, str | None]:
    started = time.monotonic()
    answer = client.post("/v1/documents", json=make_document())
    return answer.status_code, time.monotonic() - started, answer.headers.get("Retry-After")


def test_a_slow_postgresql_fills_pgbouncer_and_writes_are_shed_with_503_and_retry_after(
    bouncer_stack: dict[str, str], namespaced_service: PooledService
) -> None:
    """500 ms on PgBouncer's side, 20 writes at once: PgBouncer's 4 server connections
    are busy for seconds, the clients beyond them wait at most query_wait_timeout (or the
    service's own acquire timeout) and get a 503 with Retry-After; none queues longer."""
    private = _settings(bouncer_stack)
    headers = {"Authorization": f"Bearer {_token('acme')}"}
    toxic = Toxic(name="pgbouncer-test-latency", type="latency", attributes={"latency": 500})
    with (
        httpx.Client(base_url=namespaced_service.url, headers=headers, timeout=30.0) as client,
        ToxiproxyClient(private.toxiproxy_url) as toxiproxy,
    ):
        assert client.post("/v1/documents", json=make_document()).status_code == 202
        toxiproxy.add_toxic("pgbouncer-postgres", toxic)
        try:
            with concurrent.futures.ThreadPoolExecutor(20) as pool:
                answers = list(pool.map(lambda _: _timed_write(client), range(20)))
        finally:
            toxiproxy.remove_toxic("pgbouncer-postgres", toxic.name)
        # The burst's timeouts may open the breaker (1 s here): writes come back after it.
        resumed = eventually(
            lambda: client.post("/v1/documents", json=make_document()).status_code == 202 or None,
            timeout_s=15,
            every_s=0.3,
        )
    shed = [a for a in answers if a[0] == 503]
    assert shed, answers
    assert all(retry is not None and int(retry) >= 1 for _, _, retry in shed), shed
    assert {code for code, _, _ in answers} <= {202, 503}, answers
    assert max(took for _, took, _ in answers) <= HANG_MS / 1000, answers
    assert resumed


@pytest.fixture(scope="module")
def experiment_service(
    bouncer_stack: dict[str, str],
    session_servers: StackSettings,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[PooledService]:
    """A service (one worker: its pool of 5 is more than PgBouncer's 4 server
    connections) and its own indexer behind the private PgBouncer. The default schema
    and search alias (the reconciliation reads those; ids are fresh UUIDs); the queue,
    the exchange and the Redis keys are namespaced, so nobody else consumes its outbox."""
    private = _settings(bouncer_stack)
    logs = tmp_path_factory.mktemp("pgbouncer-experiments")
    namespace = f"t{uuid.uuid4().hex[:10]}"
    env = {
        **_pooled_env(private, session_servers),
        "SERVICE_REDIS_PREFIX": f"{namespace}:",
        "SERVICE_AMQP_QUEUE": f"{namespace}.index",
        "SERVICE_AMQP_EXCHANGE": namespace,
        "SERVICE_OUTBOX_POLL_INTERVAL_S": "0.2",
        # The breaker opens on both faults; open 3 s instead of 30 s, the after-check
        # comes SETTLE seconds after the remedy instead of the shipped 40-45.
        "SERVICE_RESILIENCE_BREAKER_OPEN_DURATION_S": "3",
        "PROMETHEUS_MULTIPROC_DIR": str(logs),
    }
    port = free_port()
    proc = start_uvicorn(port, env, logs / "service.log")
    procs = [proc]
    try:
        wait_ready(f"http://127.0.0.1:{port}", [proc], logs)  # declares the queue
        with open(logs / "indexer.log", "wb") as log:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "service.indexer"],
                    env=env,
                    cwd=PROJECT_ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        yield PooledService(url=f"http://127.0.0.1:{port}", process=proc, env=env)
        assert [p.poll() for p in procs] == [None, None]  # no restart during the experiments
    finally:
        stop_processes(*procs)
        named = {**env, "SERVICE_POSTGRES_SCHEMA": namespace, "SERVICE_OPENSEARCH_ALIAS": namespace}
        drop_namespace(session_servers, named)  # only its queues, exchange and keys exist


def _experiment(
    name: str, service: PooledService, harness_env: dict[str, str], out: Path, *args: str
) -> Run:
    result = gameday_cli(
        "run",
        "--scenario",
        "write_heavy",
        "--rate",
        "10",
        "--target",
        service.url,
        "--experiment",
        str(PROJECT_ROOT / "experiments" / f"{name}.json"),
        "--rpo-grace",
        "20s",
        "--out",
        str(out),
        *args,
        # No GAMEDAY_PGBOUNCER: as after `stack up --pgbouncer`, restart_component finds
        # PgBouncer from the stack's record (stack.json).
        env=harness_env,
        timeout=180,
    )
    run = Run(out, returncode=result.returncode, output=result.stdout + result.stderr)
    assert result.returncode in (0, 1), run.output  # a verdict
    return run


def _max_ms(run: Run, endpoints: tuple[str, ...], start: float, end: float) -> float:
    return max((row["max_ms"] for row in run.rows(endpoints, start, end)), default=0.0)


def _assert_no_fault_left(private: StackSettings) -> None:
    with ToxiproxyClient(private.toxiproxy_url) as client:
        proxies = client.proxies()
    for name in ("pgbouncer", "pgbouncer-postgres"):
        assert proxies[name].enabled and not proxies[name].toxics, proxies[name]
    bouncer = next(s for s in supervisor.status(private) if s.name == "pgbouncer")
    assert bouncer.healthy, bouncer


def test_pgbouncer_restart_fails_requests_fast_resumes_writes_and_loses_nothing(
    bouncer_stack: dict[str, str], experiment_service: PooledService, tmp_path: Path
) -> None:
    fault = "pgbouncer-killed"
    run = _experiment(
        "pgbouncer-restart",
        experiment_service,
        bouncer_stack,
        tmp_path / "run",
        "--var",
        "fault_s=5",
        *SETTLE,
        "--duration",
        "48s",  # the plan: warm-up 10 + fault 5 + settle 18 + recovery 15
    )
    timeline = [e for e in run.events() if e["type"] != "stage_changed"]
    assert run.outcome["steady_state_before"] is True, (run.outcome, timeline)
    assert run.outcome["verdict"] == "pass", (run.outcome, timeline)
    start, end = run.window(fault)
    writes = run.rows(WRITES, start, end)
    # Writes fail fast while PgBouncer is away (503, not a timeout) ...
    assert total(writes, "fail_5xx") > 0, writes
    assert total(run.rows(WRITES + READS, start, end), "fail_timeout") == 0
    # ... and no request of any kind hangs past the statement timeout.
    slowest = _max_ms(run, WRITES + READS, start, end + 5)
    assert slowest <= HANG_MS, slowest
    # ... and resume once it is back: acknowledged writes after the restart.
    later = run.rows(("POST /v1/documents",), end + 5, end + 15)
    assert total(later, "requests") - total(later, "failures") > 0, later
    own = run.own_objectives(fault)
    broken = {n: o["measured"] for n, o in own.items() if o["gating"] and not o["passed"]}
    assert len(own) >= 5 and not broken, (broken, sorted(own))
    # The finding: writes refused while PgBouncer is away spend the run's error budget.
    assert run.failed_gating() == {AVAILABILITY}, run.failed_gating()
    reconciliation = run.summary["reconciliation"]
    assert reconciliation["acknowledged"] > 0, reconciliation
    assert reconciliation["lost"] == 0 and reconciliation["rpo_s"] == 0.0, reconciliation
    _assert_no_fault_left(_settings(bouncer_stack))


def test_latency_between_pgbouncer_and_postgres_sheds_writes_within_the_p99_budget(
    bouncer_stack: dict[str, str], experiment_service: PooledService, tmp_path: Path
) -> None:
    fault = "pgbouncer-postgres-latency-500ms-downstream"
    run = _experiment(
        "pgbouncer-to-postgres-latency",
        experiment_service,
        bouncer_stack,
        tmp_path / "run",
        "--var",
        "fault_s=10",
        *SETTLE,
        "--duration",
        "53s",  # the plan: warm-up 10 + fault 10 + settle 18 + recovery 15
    )
    timeline = [e for e in run.events() if e["type"] != "stage_changed"]
    assert run.outcome["steady_state_before"] is True, (run.outcome, timeline)
    start, end = run.window(fault)
    writes = run.rows(WRITES, start, end)
    # The pool fills: writes are shed (503), not queued until they time out.
    assert total(writes, "fail_5xx") > 0, writes
    assert total(writes, "fail_timeout", "fail_connection") == 0, writes
    own = run.own_objectives(fault)
    for endpoint in WRITES:
        p99 = own[f"experiment:{fault} {endpoint} p99 latency [fault:{fault}]"]
        assert p99["passed"] and p99["measured"] <= HANG_MS, p99
    assert total(run.rows(READS, start, end), *SERVER_ERRORS[2:]) == 0
    # Nothing queues: every request of the window (reads as well) ends within the bound.
    slowest = _max_ms(run, WRITES + READS, start, end)
    assert slowest <= HANG_MS, slowest
    # The finding: writes shed for the window spend the run's error budget, nothing else.
    assert run.failed_gating() == {AVAILABILITY}, run.failed_gating()
    _assert_no_fault_left(_settings(bouncer_stack))
