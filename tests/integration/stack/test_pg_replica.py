"""The streaming PostgreSQL replica (`stack up --pg-replica`, `stack promote-replica`) and
the service's failover to it, on a private small stack (toxiproxy, postgres, replica)
with its own state dir and ports: promotion changes a stack for good, so the session's
stack is never promoted. The service under test uses the session stack for Redis,
RabbitMQ and OpenSearch (in a namespace of its own) and the private stack for PostgreSQL.
The replica-lag gauge is measured there too, and checked absent on the session stack's
service when that stack has no replica.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gameday.settings import PROJECT_ROOT, StackSettings
from gameday.stack import process, supervisor
from gameday.stack.service_env import service_env
from gameday.toxiproxy import ToxiproxyClient
from service.deps.postgres_router import WATCH_INTERVAL_S
from service.namespace import drop_namespace, namespace_env
from tests.integration.own_service import gameday_cli
from tests.integration.service.service_helpers import (
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
SUBSET = "toxiproxy,postgres,postgres-replica"
PORTS = {
    "GAMEDAY_TOXIPROXY_PORT": 27474,
    "GAMEDAY_POSTGRES_PORT": 27432,
    "GAMEDAY_POSTGRES_PROXY_PORT": 27442,
    "GAMEDAY_POSTGRES_REPLICA_PORT": 27433,
    "GAMEDAY_POSTGRES_REPLICA_PROXY_PORT": 27443,
}


def gameday(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GAMEDAY, *args], env=env, capture_output=True, text=True, timeout=240, check=False
    )


# A second private stack, for the chaos experiment: the first one is promoted by the
# tests above, and both may be alive at once.
EXPERIMENT_PORTS = {k: v + 100 for k, v in PORTS.items()}


@contextmanager
def private_replica_stack(ports: dict[str, int]) -> Iterator[dict[str, str]]:
    """toxiproxy, postgres and a streaming replica on `ports`, in a state dir of their
    own; yields the environment that makes `gameday` commands use them."""
    # Not under pytest's basetemp: another pytest session on the machine resets that
    # root to 0700, which would lock the postgres user out between two of our steps.
    state = Path(tempfile.mkdtemp(prefix="gameday-replica-"))
    env = straight_env(
        {**os.environ, "GAMEDAY_STATE_DIR": str(state), **{k: str(v) for k, v in ports.items()}}
    )
    env.pop("GAMEDAY_PG_REPLICA", None)
    try:
        up = gameday("stack", "up", "--pg-replica", "--only", SUBSET, env=env)
        assert up.returncode == 0, up.stdout + up.stderr
        yield env
    finally:
        gameday("stack", "down", "--purge", env=env)
        shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="module")
def replica_stack() -> Iterator[dict[str, str]]:
    with private_replica_stack(PORTS) as env:
        yield env


def _settings(env: dict[str, str]) -> StackSettings:
    return StackSettings(
        state_dir=Path(env["GAMEDAY_STATE_DIR"]),
        **{k.removeprefix("GAMEDAY_").lower(): int(env[k]) for k in PORTS},
        pg_replica=True,
    )


def _fetch(port: int, sql: str) -> object:
    async def run() -> object:
        conn = await asyncpg.connect(
            host="127.0.0.1", port=port, user="gameday", password="gameday", database="gameday"
        )
        try:
            return await conn.fetchval(sql)
        finally:
            await conn.close()

    return asyncio.run(run())


def _ended_sessions(port: int) -> int:
    """Client sessions on the `gameday` database of the node on `port` that have ended
    (opened minus still open), looked at from the `postgres` database so as not to be
    one of them."""
    sql = (
        "select (select sessions from pg_stat_database where datname = 'gameday') - "
        "(select count(*) from pg_stat_activity where datname = 'gameday' "
        "and backend_type = 'client backend')"
    )

    async def run() -> int:
        conn = await asyncpg.connect(
            host="127.0.0.1", port=port, user="gameday", password="gameday", database="postgres"
        )
        try:
            return int(await conn.fetchval(sql))
        finally:
            await conn.close()

    return asyncio.run(run())


def _status(env: dict[str, str]) -> dict[str, dict[str, object]]:
    statuses = supervisor.status(_settings(env))  # what `stack status --json` prints
    return {c["name"]: c for c in json.loads(supervisor.status_json(statuses))["components"]}


def test_up_with_pg_replica_starts_a_standby_that_streams_from_the_primary(
    replica_stack: dict[str, str],
) -> None:
    replica = _status(replica_stack)["postgres-replica"]
    assert replica["healthy"] is True and replica["pid"] is not None
    assert replica["proxy_port"] == PORTS["GAMEDAY_POSTGRES_REPLICA_PROXY_PORT"]
    assert "standby" in str(replica["version"])
    assert _fetch(PORTS["GAMEDAY_POSTGRES_REPLICA_PROXY_PORT"], "select pg_is_in_recovery()")

    marker = uuid.uuid4().hex
    _fetch(PORTS["GAMEDAY_POSTGRES_PROXY_PORT"], "create table if not exists streamed (v text)")
    _fetch(PORTS["GAMEDAY_POSTGRES_PROXY_PORT"], f"insert into streamed values ('{marker}')")

    def streamed() -> bool:
        try:
            sql = f"select count(*) from streamed where v = '{marker}'"
            return _fetch(PORTS["GAMEDAY_POSTGRES_REPLICA_PROXY_PORT"], sql) == 1
        except asyncpg.UndefinedTableError:  # the create table has not streamed yet
            return False

    eventually(streamed, timeout_s=10)


@dataclass
class FailoverService:
    url: str
    process: subprocess.Popen[bytes]
    schema: str


@pytest.fixture
def failover_service(
    replica_stack: dict[str, str], session_servers: StackSettings, tmp_path: Path
) -> Iterator[FailoverService]:
    """A service whose PostgreSQL is the private primary plus its replica."""
    private = _settings(replica_stack)
    namespace = f"t{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        **service_env(session_servers),
        "SERVICE_POSTGRES_DSN": private.postgres_dsn,
        "SERVICE_POSTGRES_REPLICA_DSNS": private.postgres_replica_dsn or "",
        **namespace_env(namespace),
        "SERVICE_OUTBOX_POLL_INTERVAL_S": "0.2",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
    }
    port = free_port()
    proc = start_uvicorn(port, env, tmp_path / "service.log")
    try:
        wait_ready(f"http://127.0.0.1:{port}", [proc], tmp_path)
        yield FailoverService(url=f"http://127.0.0.1:{port}", process=proc, schema=namespace)
    finally:
        stop_processes(proc)
        drop_namespace(session_servers, env)  # its queue, index and keys on the session stack


LAG = "service_pg_replica_lag_seconds"
LAG_BYTES = "service_pg_replica_lag_bytes"


def _replica_samples(url: str) -> dict[str, dict[str, float]]:
    """The replica-lag samples on the service's /metrics: {metric: {replica: value}}."""
    text = httpx.get(f"{url}/metrics", timeout=5.0).text
    out: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in (LAG, LAG_BYTES):
                out.setdefault(sample.name, {})[sample.labels["replica"]] = sample.value
    return out


def test_replica_lag_is_zero_when_caught_up_grows_while_replay_is_paused_and_recovers(
    replica_stack: dict[str, str], failover_service: FailoverService
) -> None:
    url = failover_service.url
    replica = f"127.0.0.1:{PORTS['GAMEDAY_POSTGRES_REPLICA_PROXY_PORT']}"
    primary_port = PORTS["GAMEDAY_POSTGRES_PROXY_PORT"]
    replica_port = PORTS["GAMEDAY_POSTGRES_REPLICA_PROXY_PORT"]

    def lag() -> float | None:
        return _replica_samples(url).get(LAG, {}).get(replica)

    # Measured from start-up (the service is ready), one series per standby; idle and
    # streaming, it is caught up.
    first = _replica_samples(url)
    assert set(first) == {LAG, LAG_BYTES} and set(first[LAG]) == {replica}, first
    assert 0.0 <= first[LAG][replica] < WATCH_INTERVAL_S, first
    wait_for(
        lambda: lag() == 0.0,
        timeout_s=3 * WATCH_INTERVAL_S + 5,
        what="the lag of an idle, streaming standby at 0",
    )

    _fetch(primary_port, "create table if not exists lag_probe (v text)")
    _fetch(replica_port, "select pg_wal_replay_pause()")
    try:
        _fetch(primary_port, f"insert into lag_probe values ('{uuid.uuid4().hex}')")
        grown = 2 * WATCH_INTERVAL_S
        wait_for(
            lambda: (lag() or 0.0) >= grown,
            timeout_s=grown + 3 * WATCH_INTERVAL_S + 5,
            what=f"the lag of a standby whose replay is paused at {grown} s or more",
        )
        behind = _replica_samples(url)
        assert behind[LAG_BYTES][replica] > 0, behind
        health = httpx.get(f"{url}/health/ready", timeout=5.0).json()
        assert health["dependencies"]["postgres-replica"]["lag_s"] >= grown, health
    finally:
        _fetch(replica_port, "select pg_wal_replay_resume()")
    wait_for(
        lambda: lag() == 0.0,
        timeout_s=3 * WATCH_INTERVAL_S + 5,
        what="the lag back at 0 once replay resumed",
    )
    assert _replica_samples(url)[LAG_BYTES][replica] == 0.0


def test_reads_survive_primary_loss_and_writes_follow_the_promoted_replica_without_restart(
    replica_stack: dict[str, str], failover_service: FailoverService
) -> None:
    url, proc = failover_service.url, failover_service.process
    private = _settings(replica_stack)
    headers = {"Authorization": f"Bearer {_token('acme')}"}
    client = httpx.Client(base_url=url, headers=headers, timeout=10.0)
    ready = client.get("/health/ready").json()
    assert ready["dependencies"]["postgres-replica"]["status"] == "ok"
    assert ready["postgres_primary"] == f"127.0.0.1:{PORTS['GAMEDAY_POSTGRES_PROXY_PORT']}"
    created = client.post("/v1/documents", json=make_document())
    assert created.status_code == 202, created.text
    doc_id = created.json()["id"]
    assert client.get(f"/v1/documents/{doc_id}").status_code == 200

    toxiproxy = ToxiproxyClient(private.toxiproxy_url)
    try:
        toxiproxy.set_enabled("postgres", False)  # the primary is gone for the service
        reads = [client.get(f"/v1/documents/{doc_id}").status_code for _ in range(5)]
        assert reads == [200] * 5
        assert client.post("/v1/documents", json=make_document()).status_code == 503

        promoted = gameday("stack", "promote-replica", env=replica_stack)
        assert promoted.returncode == 0, promoted.stderr
        assert "accepts writes after" in promoted.stdout

        def write() -> str | None:
            answer = client.post("/v1/documents", json=make_document())
            return answer.json()["id"] if answer.status_code == 202 else None

        new_id = eventually(write, timeout_s=20, every_s=0.3)
        assert proc.poll() is None  # the same process: no restart
        assert client.get(f"/v1/documents/{new_id}").status_code == 200
        replica_port = PORTS["GAMEDAY_POSTGRES_REPLICA_PROXY_PORT"]
        stored = f"select count(*) from {failover_service.schema}.documents where id = '{new_id}'"
        assert _fetch(replica_port, stored) == 1
        after = client.get("/health/ready").json()
        assert after["postgres_primary"] == f"127.0.0.1:{replica_port}"
        assert after["dependencies"]["postgres-replica"]["status"] == "fenced"

        # The old primary back (diverged, still writable): the service stays on the
        # promoted node, the newer timeline, through its periodic role check too.
        old_primary = PORTS["GAMEDAY_POSTGRES_PORT"]
        ended = _ended_sessions(old_primary)
        toxiproxy.set_enabled("postgres", True)
        # The service's role checks are the short sessions on the old primary now (its pool
        # may connect there too, and stay). They run one after another: once the second
        # one has ended, the first one's decision is made.
        wait_for(
            lambda: _ended_sessions(old_primary) >= ended + 2,
            timeout_s=3 * WATCH_INTERVAL_S + 5,
            what="two role checks of the service on the old primary",
        )
        later = client.post("/v1/documents", json=make_document())
        assert later.status_code == 202, later.text
        found = f"select count(*) from {failover_service.schema}.documents where id = '{{}}'"
        assert _fetch(replica_port, found.format(later.json()["id"])) == 1
        assert _fetch(PORTS["GAMEDAY_POSTGRES_PROXY_PORT"], found.format(later.json()["id"])) == 0
    finally:
        toxiproxy.set_enabled("postgres", True)
        toxiproxy.close()
        client.close()


def _token(tenant: str) -> str:
    from service.settings import AuthSettings
    from service.tenants.auth import issue_token

    return issue_token(AuthSettings(), tenant=tenant, role="user", ttl_s=600)


def test_down_stops_the_primary_and_the_replica(replica_stack: dict[str, str]) -> None:
    pids = {n: int(c["pid"]) for n, c in _status(replica_stack).items() if c["pid"]}
    assert set(pids) == set(SUBSET.split(","))
    down = gameday("stack", "down", env=replica_stack)
    assert down.returncode == 0, down.stderr
    assert "postgres-replica" in down.stdout
    for name, pid in pids.items():
        assert process.group_members(pid) == [], name
    assert all(c["pid"] is None for c in _status(replica_stack).values())


def test_promote_replica_without_a_replica_is_a_one_line_error_with_exit_2(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "GAMEDAY_STATE_DIR": str(tmp_path)}
    result = gameday("stack", "promote-replica", env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "no running PostgreSQL replica" in lines[0], result.stderr
    assert "--pg-replica" in lines[0]


def test_the_primary_loss_experiment_fails_over_without_losing_an_acknowledged_write(
    session_servers: StackSettings, tmp_path: Path
) -> None:
    """experiments/postgres-primary-loss.json under write-heavy load, against a service
    whose PostgreSQL is a fresh private primary+replica; the harness (fault, promotion,
    reconciliation) talks to that private stack and to the session stack for the rest."""
    namespace = f"t{uuid.uuid4().hex[:10]}"
    with private_replica_stack(EXPERIMENT_PORTS) as harness_env:
        private = _settings(harness_env)
        # The default schema (the private PostgreSQL is ours alone) and the default search
        # alias (the reconciliation reads `documents`; ids are fresh UUIDs): the queue and
        # the Redis keys are namespaced, so no other service consumes this one's outbox.
        env = {
            **os.environ,
            **service_env(session_servers),
            "SERVICE_POSTGRES_DSN": private.postgres_dsn,
            "SERVICE_POSTGRES_REPLICA_DSNS": private.postgres_replica_dsn or "",
            "SERVICE_REDIS_PREFIX": f"{namespace}:",
            "SERVICE_AMQP_QUEUE": f"{namespace}.index",
            "SERVICE_AMQP_EXCHANGE": namespace,
            "SERVICE_OUTBOX_POLL_INTERVAL_S": "0.2",
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        }
        port = free_port()
        proc = start_uvicorn(port, env, tmp_path / "service.log")
        procs = [proc]
        out = tmp_path / "run"
        try:
            wait_ready(f"http://127.0.0.1:{port}", [proc], tmp_path)  # declares the queue
            with open(tmp_path / "indexer.log", "wb") as log:  # its own queue's consumer
                indexer = [sys.executable, "-m", "service.indexer"]
                procs.append(
                    subprocess.Popen(
                        indexer, env=env, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT
                    )
                )
            result = gameday_cli(
                "run",
                "--scenario",
                "write_heavy",
                "--rate",
                "10",
                "--target",
                f"http://127.0.0.1:{port}",
                "--experiment",
                str(PROJECT_ROOT / "experiments" / "postgres-primary-loss.json"),
                "--rpo-grace",
                "20s",
                "--out",
                str(out),
                env={**harness_env, "GAMEDAY_PG_REPLICA": "1"},
                timeout=180,
            )
            # the service and the indexer followed the promotion, without a restart
            assert [p.poll() for p in procs] == [None, None]
        finally:
            stop_processes(*procs)
            # Neither a schema nor an alias of this name exists: only the queues, the
            # exchange and the keys are dropped.
            named = {
                **env,
                "SERVICE_POSTGRES_SCHEMA": namespace,
                "SERVICE_OPENSEARCH_ALIAS": namespace,
            }
            drop_namespace(session_servers, named)
        assert result.returncode in (0, 1), result.stdout + result.stderr  # a verdict
        summary = json.loads((out / "summary.json").read_text())
        # The run's verdict is FAIL by design: writes answer 503 until the promotion, so
        # the whole run's error rate and availability miss the SLO. Nothing else may.
        breached = [o for o in summary["objectives"] if o["passed"] is False]
        assert all(o["unit"] == "%" for o in breached), breached
        outcome = json.loads((out / "experiment.json").read_text())
        events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
        # on a failure, the timeline says which probe saw what, and when
        timeline = [e for e in events if e["type"] != "stage_changed"]
        assert outcome["steady_state_before"] is True, (outcome, timeline)
        assert outcome["verdict"] == "pass", (outcome, timeline)
        assert any(e["type"] == "replica_promoted" for e in events), events
        reconciliation = json.loads((out / "reconciliation.json").read_text())
        assert reconciliation["acknowledged"] > 0 and reconciliation["lost"] == 0, reconciliation
        failovers = [e["failover"] for e in summary["experiments"] if e.get("failover")]
        assert len(failovers) == 1, summary["experiments"]
        assert isinstance(failovers[0]["first_write_s"], float | int), failovers[0]
        assert failovers[0]["first_write_s"] > 0  # writes did fail while the primary was away
        with ToxiproxyClient(private.toxiproxy_url) as client:
            proxies = client.proxies()
        assert all(x.enabled and not x.toxics for x in proxies.values()), proxies


def test_the_stacks_service_exports_replica_lag_only_with_a_replica(
    session_servers: StackSettings,
) -> None:
    """Without `--pg-replica` the gauges are not on /metrics at all (not even their HELP
    line); with it, the stack's replica has a sample."""
    httpx.get(f"{session_servers.service_url}/v1/health/ready", timeout=5.0)
    text = httpx.get(f"{session_servers.service_url}/metrics", timeout=5.0).text
    assert "service_breaker_state" in text  # the real metrics, merged
    if not session_servers.pg_replica:
        assert LAG not in text and LAG_BYTES not in text
    else:
        replica = f"{session_servers.host}:{session_servers.postgres_replica_proxy_port}"
        assert replica in _replica_samples(session_servers.service_url).get(LAG, {})
