"""A RabbitMQ cluster of three brokers with quorum queues (`stack up --rabbitmq-nodes 3`,
issue 19) under its two experiments, on a private stack (toxiproxy, PostgreSQL and the
brokers, own state dir, ports 235xx-236xx): the service and the indexer under test use
its PostgreSQL and brokers, and the session stack for Redis (in a namespace of their
own) and OpenSearch (the `documents` alias, which the reconciliation reads, under
fresh ids). Each test deletes the private index queue and has it declared
again through node 0, so node 0 leads it when the fault begins.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aio_pika
import pytest

from gameday.chaos.events import configuration_for
from gameday.chaos.rabbitmq_cluster import (
    leftover_rabbitmq_partitions,
    queue_members,
    restart_rabbitmq_node_if_absent,
)
from gameday.settings import PROJECT_ROOT, StackSettings
from gameday.stack import read_tracked
from gameday.stack.rabbitmq import RabbitMQ
from gameday.stack.service_env import service_env
from gameday.toxiproxy import ToxiproxyClient
from service.namespace import drop_namespace, namespace_env
from tests.integration.own_service import gameday_cli
from tests.integration.service.service_helpers import (
    free_port,
    start_uvicorn,
    stop_processes,
    wait_for,
    wait_ready,
)
from tests.integration.session_stack import session_components_stopped

log = logging.getLogger(__name__)
GAMEDAY = [sys.executable, "-m", "gameday.cli"]
PORTS = {
    "GAMEDAY_TOXIPROXY_PORT": 23500,
    "GAMEDAY_POSTGRES_PORT": 23532,
    "GAMEDAY_POSTGRES_PROXY_PORT": 23542,
    "GAMEDAY_RABBITMQ_PORT": 23672,
    "GAMEDAY_RABBITMQ_DIST_PORT": 23673,  # + node
    "GAMEDAY_RABBITMQ_PROXY_PORT": 23680,  # + node
    "GAMEDAY_EPMD_PORT": 23569,
}
# Faults held 5 s past the outbox check (which itself waits for the relay to move):
# the same behaviour as the shipped 10-15 s in less CI time.
FAULT_S = "5"


def _gameday(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GAMEDAY, *args], env=env, capture_output=True, text=True, timeout=240, check=False
    )


@pytest.fixture(scope="module")
def cluster(
    stack: StackSettings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """The private stack: toxiproxy and three brokers, with the session's own broker
    stopped meanwhile; yields the harness's environment. The brokers' logs are kept in
    pytest's temporary directory."""
    with session_components_stopped(stack, ["rabbitmq"]):
        yield from _private_cluster(tmp_path_factory)


def _private_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    state = Path(tempfile.mkdtemp(prefix="gameday-rabbitmq-"))
    env = {
        **os.environ,
        "GAMEDAY_STATE_DIR": str(state),
        "GAMEDAY_RABBITMQ_NODES": "3",
        **{k: str(v) for k, v in PORTS.items()},
    }
    try:
        up = _gameday("stack", "up", "--only", "toxiproxy,postgres,rabbitmq", env=env)
        assert up.returncode == 0, up.stdout + up.stderr
        yield env
    finally:
        _gameday("stack", "down", env=env)
        shutil.copytree(
            state / "logs", tmp_path_factory.mktemp("rabbitmq-logs"), dirs_exist_ok=True
        )
        shutil.rmtree(state, ignore_errors=True)


def _settings(env: dict[str, str]) -> StackSettings:
    return StackSettings(
        state_dir=Path(env["GAMEDAY_STATE_DIR"]),
        rabbitmq_nodes=3,
        **{k.removeprefix("GAMEDAY_").lower(): int(v) for k, v in PORTS.items()},
    )


def _healthy_nodes(settings: StackSettings) -> list[str]:
    async def check() -> list[str]:
        nodes = [RabbitMQ(settings, i) for i in range(settings.rabbitmq_nodes)]
        healths = await asyncio.gather(*(n.checked() for n in nodes))
        return [n.name for n, h in zip(nodes, healths, strict=True) if h.healthy]

    return asyncio.run(check())


def _delete_queues(url: str, queue: str) -> None:
    async def delete() -> None:
        connection = await aio_pika.connect(url, timeout=10)
        async with connection:
            channel = await connection.channel()
            for name in (queue, f"{queue}.dlq"):
                await channel.queue_delete(name)

    asyncio.run(delete())


def _run_experiment(
    cluster: dict[str, str], stack: StackSettings, tmp_path: Path, experiment: str
) -> dict[str, Any]:
    """The experiment under write-heavy load against a service and an indexer of our own
    on the private brokers; returns what the test reads of the run directory."""
    private = _settings(cluster)
    wait_for(lambda: len(_healthy_nodes(private)) == 3, timeout_s=60, what="three healthy brokers")
    namespace = f"t{uuid.uuid4().hex[:10]}"
    queue = "documents.index"  # the experiments' (the private brokers serve only this test)
    _delete_queues(private.amqp_urls[0], queue)  # declared again through node 0
    env = {
        **os.environ,
        **service_env(stack),
        **namespace_env(namespace),
        # the private PostgreSQL's default schema: the reconciliation reads it
        "SERVICE_POSTGRES_DSN": private.postgres_dsn,
        "SERVICE_POSTGRES_SCHEMA": "public",
        "SERVICE_AMQP_QUEUE": queue,
        "SERVICE_AMQP_EXCHANGE": "documents",
        "SERVICE_OPENSEARCH_ALIAS": "documents",  # the reconciliation reads `documents`
        "SERVICE_AMQP_URL": private.amqp_urls[0],
        "SERVICE_AMQP_URLS": ",".join(private.amqp_urls),
        "SERVICE_AMQP_QUEUE_TYPE": "quorum",
        "SERVICE_OUTBOX_POLL_INTERVAL_S": "0.2",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),  # the indexer's counters on /metrics
    }
    port = free_port()
    procs = [start_uvicorn(port, env, tmp_path / "service.log")]
    out = tmp_path / "run"
    try:
        wait_ready(f"http://127.0.0.1:{port}", procs, tmp_path)
        with open(tmp_path / "indexer.log", "wb") as log:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "service.indexer"],
                    env=env,
                    cwd=PROJECT_ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        # declared (by the indexer or the relay) through node 0, which leads it
        members = wait_for(
            lambda: queue_members(queue, 1, private) or None, timeout_s=60, what=queue
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
            str(PROJECT_ROOT / "experiments" / f"{experiment}.json"),
            "--var",
            f"fault_s={FAULT_S}",
            "--rpo-grace",
            "20s",
            "--out",
            str(out),
            env=cluster,
            timeout=360,  # with the rollback's restart of a cut node that never came back
        )
        alive = [p.poll() for p in procs]
    finally:
        stop_processes(*procs)
        # the schema and the keys; never the `documents` alias, nor a session queue
        # (the session's `public` schema is never dropped: the namespace's, which no one made)
        named = {
            **env,
            "SERVICE_POSTGRES_SCHEMA": namespace,
            "SERVICE_OPENSEARCH_ALIAS": namespace,
            "SERVICE_AMQP_QUEUE": f"{namespace}.index",
            "SERVICE_AMQP_EXCHANGE": namespace,
        }
        drop_namespace(stack, named)
    if not (out / "summary.json").exists():
        pytest.fail(f"no run directory, exit {result.returncode}: {result.stdout}{result.stderr}")
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    return {
        "result": result,
        "alive": alive,
        "members_before": members,
        "events": events,
        "samples": {
            e["value"]["moment"]: e for e in events if e.get("probe") == "rabbitmq_cluster_sample"
        },
        "recovered": [e for e in events if e.get("probe") == "outbox_backlog_recovers"],
        "summary": json.loads((out / "summary.json").read_text()),
        "reconciliation": json.loads((out / "reconciliation.json").read_text()),
        "private": private,
    }


def _broken_claims(run: dict[str, Any], fault: str, within_s: float) -> list[str]:
    """The set-up is asserted; the experiment's claims are collected, so that a run that
    breaks one still says which of the others held (the tests assert none is broken)."""
    result = run["result"]
    output = result.stdout + result.stderr
    assert result.returncode in (0, 1), output  # a verdict
    assert run["alive"] == [None, None], "the service or the indexer exited"
    assert run["members_before"] == {
        "rabbitmq": "leader",
        "rabbitmq-1": "follower",
        "rabbitmq-2": "follower",
    }, run["members_before"]
    kinds = {(e["type"], e.get("name")) for e in run["events"]}
    assert ("fault_injected", fault) in kinds and ("fault_removed", fault) in kinds, kinds
    samples = run["samples"]
    assert {"before", "fault start", "fault end", "after"} <= set(samples), sorted(samples)
    assert samples["before"]["value"]["leaders"] == {
        "rabbitmq": "rabbitmq",
        "rabbitmq-1": "rabbitmq",
        "rabbitmq-2": "rabbitmq",
    }, samples["before"]
    broken: list[str] = []
    # 1. the relay found a live broker: the backlog is back by the bound and stays there
    # while the fault holds
    (recovered,) = run["recovered"]
    assert recovered["value"]["within_s"] == within_s, recovered
    fault_end = samples["fault end"]["value"]
    if not recovered["ok"] or fault_end["outbox_backlog"] > recovered["value"]["level"]:
        broken.append(f"outbox backlog not back within {within_s} s: {recovered['value']}, "
                      f"at the fault's end {fault_end['outbox_backlog']}")  # fmt: skip
    # 2. RPO 0 by the ledger: every acknowledged write indexed
    reconciliation = run["reconciliation"]
    assert reconciliation["acknowledged"] > 0, reconciliation
    if reconciliation["lost"] or reconciliation["rpo_s"] or reconciliation["not_yet_indexed"]:
        figures = {k: reconciliation[k] for k in ("lost", "rpo_s", "not_yet_indexed")}
        broken.append(f"acknowledged writes not indexed: {figures}")
    # 3. redeliveries counted at the fault's start and end, and the report shows them
    start = samples["fault start"]["value"]["redelivered_messages"]
    end = samples["fault end"]["value"]["redelivered_messages"]
    assert isinstance(start, float) and end >= start, (start, end)
    (experiment,) = [e for e in run["summary"]["experiments"] if e["name"] == fault]
    moments = [p["value"]["moment"] for p in experiment["probes"] if "moment" in p["value"]]
    assert moments == ["before", "fault start", "fault end", "after"], experiment["probes"]
    # the SLO file's window for this fault: writes and searches answered throughout
    own = [
        o
        for o in run["summary"]["objectives"]
        if o["phase"] == f"fault:{fault}" and o["scope"] == f"experiment:{fault}"
    ]
    assert own, run["summary"]["objectives"]
    failed = {o["name"]: o["measured"] for o in own if o["gating"] and not o["passed"]}
    if failed:
        broken.append(f"slo.yaml window {fault}: {failed}")
    # nothing left behind: three brokers again, no toxic, no partition rule
    private = run["private"]
    healthy = sorted(_healthy_nodes(private))
    if healthy != ["rabbitmq", "rabbitmq-1", "rabbitmq-2"]:
        broken.append(f"brokers answering AMQP after the run: {healthy}")
    with ToxiproxyClient(private.toxiproxy_url) as client:
        proxies = client.proxies()
    assert all(p.enabled and not p.toxics for p in proxies.values()), proxies
    assert leftover_rabbitmq_partitions() == []
    return broken


def test_a_killed_broker_is_replaced_by_a_live_one_and_no_acknowledged_write_is_lost(
    cluster: dict[str, str], stack: StackSettings, tmp_path: Path
) -> None:
    run = _run_experiment(cluster, stack, tmp_path, "rabbitmq-node-kill")
    broken = _broken_claims(run, "rabbitmq-killed", within_s=15)
    # the killed node led the queue: a live node leads it by the fault's end
    leaders = set(run["samples"]["fault end"]["value"]["leaders"].values())
    if not leaders or not leaders <= {"rabbitmq-1", "rabbitmq-2"}:
        broken.append(f"no live node leads the queue: {run['samples']['fault end']}")
    assert not broken, broken


def test_a_cut_broker_leaves_the_queue_leader_on_the_majority_side_and_loses_nothing(
    cluster: dict[str, str], stack: StackSettings, tmp_path: Path
) -> None:
    if shutil.which("iptables") is None:
        pytest.fail("iptables is not installed: run `make bootstrap` (as root)")
    run = _run_experiment(cluster, stack, tmp_path, "rabbitmq-minority-partition")
    broken = _broken_claims(run, "rabbitmq-partition-rabbitmq", within_s=30)
    # The cut node's rejoin is measured (bounded, waited for). When it did not come back
    # by itself (a finding: docs/experiments.md), the rollback must have restarted it, so
    # that the run leaves three brokers (asserted in _broken_claims).
    rejoined = [e for e in run["events"] if e.get("probe") == "rabbitmq_node_rejoined"]
    assert [e["value"]["node"] for e in rejoined] == ["rabbitmq"], rejoined
    restarted = [e for e in run["events"] if e.get("probe") == "rabbitmq_node_restarted"]
    if rejoined[0]["ok"]:
        assert restarted == [], restarted  # only a node that did not answer is restarted
    else:
        log.warning("FINDING: the cut node did not rejoin within 30 s: %s", rejoined[0])
        if [e["ok"] for e in restarted] != [True]:
            broken.append(f"the cut node neither rejoined nor came back restarted: {restarted}")
    for moment in ("fault end", "after"):
        sample = run["samples"][moment]
        if not (sample["ok"] is True and sample["value"]["leader_on_majority"]):
            broken.append(f"the queue's leader off the majority side at {moment}: {sample}")
    assert not broken, broken


def test_a_broker_that_does_not_answer_is_restarted_by_the_rollback(
    cluster: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The partition experiment's last rollback (restart_rabbitmq_node_if_absent), on a
    broker killed outright: it is started again, answers, and the restart is recorded;
    a broker that answers is left alone. Node 2: neither the queue's leader at a test's
    start nor a node the experiments cut or kill."""
    for key, value in cluster.items():
        if key.startswith("GAMEDAY_"):  # the providers read the stack from GAMEDAY_*
            monkeypatch.setenv(key, value)
    private = _settings(cluster)
    tracked = read_tracked(private.run_dir, "rabbitmq-2")
    assert tracked is not None
    os.killpg(tracked.pid, signal.SIGKILL)
    wait_for(
        lambda: "rabbitmq-2" not in _healthy_nodes(private) or None,
        timeout_s=30,
        what="rabbitmq-2 no longer answering",
    )
    configuration = configuration_for(tmp_path)
    assert restart_rabbitmq_node_if_absent(2, configuration=configuration) is True
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    (restarted,) = [e for e in events if e.get("probe") == "rabbitmq_node_restarted"]
    assert restarted["ok"] is True and restarted["value"]["node"] == "rabbitmq-2", restarted
    assert sorted(_healthy_nodes(private)) == ["rabbitmq", "rabbitmq-1", "rabbitmq-2"]
    assert restart_rabbitmq_node_if_absent(2, configuration=configuration) is False
