"""A three-node search cluster of three JVMs (`stack up --search-nodes 3`) under faults,
on a PRIVATE stack (toxiproxy, postgres and the three nodes, ports 23xxx, a state dir of
its own under /tmp): partitions are iptables rules and kills are real, so the session
stack's single node is never touched. Never two three-JVM stacks at once: the other
three-node test (test_stack_lifecycle) runs in this same pytest session, one at a time.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gameday.chaos.events import configuration_for
from gameday.chaos.partition import (
    CHAIN,
    ensure_chain,
    heal_all_partitions,
    heal_partition,
    iptables,
    leftover_partitions,
    partition_nodes,
    partition_rules,
)
from gameday.chaos.search_cluster import ClusterWatch, ask_every_node, watch_cluster
from gameday.settings import PROJECT_ROOT, StackSettings
from gameday.stack import FOLLOWER_CHECK_BOUND_S, node_name, process
from gameday.stack.service_env import service_env
from gameday.stack.warmup import warm_up
from service.namespace import drop_namespace
from tests.integration.own_service import gameday_cli, interruptible
from tests.integration.service.service_helpers import (
    eventually,
    free_port,
    start_uvicorn,
    stop_processes,
    wait_ready,
)
from tests.integration.session_stack import session_components_stopped

log = logging.getLogger(__name__)  # figures: pytest -o log_cli=true --log-cli-level=INFO
GAMEDAY = [sys.executable, "-m", "gameday.cli"]
SUBSET = "toxiproxy,postgres,opensearch"
PORTS = {
    "GAMEDAY_TOXIPROXY_PORT": 23474,
    # not 23432: the Kinto example's proxy `kinto-postgres` listens there on the session
    # stack's Toxiproxy once tests/integration/examples/test_kinto.py has run
    "GAMEDAY_POSTGRES_PORT": 23452,
    "GAMEDAY_POSTGRES_PROXY_PORT": 23462,
    "GAMEDAY_OPENSEARCH_PORT": 23200,
    "GAMEDAY_OPENSEARCH_PROXY_PORT": 23210,
    "GAMEDAY_OPENSEARCH_TRANSPORT_PORT": 23300,
}
PARTITION_S = 45.0  # the longest the cut is held, waiting for the majority to drop the node
REJOIN_S = 30.0  # after the heal, until every node lists all three again
# The experiments' fault windows, short to spare CI minutes (the experiments' own
# defaults: 30 s partition, 20 s kill and freeze); each still outlasts the 6 s
# follower-check bound, so the node is dropped inside it.
PARTITION_FAULT_S = 30  # a cut manager: replaced ~16 s in, dropped a few s later
KILL_FAULT_S = 15
# 35, not 20: node-2 is the elected manager in some runs, and a frozen manager is
# dropped only after the others' leader checks (16 s), an election and the new
# manager's follower checks and publication (~10 s more): 20 s is too short for that
FREEZE_FAULT_S = 35


def gameday(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GAMEDAY, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def cluster_env(stack: StackSettings) -> Iterator[dict[str, str]]:
    """The private three-node stack, with the session's own node stopped meanwhile;
    yields the environment of `gameday` commands on it."""
    with session_components_stopped(stack, ["opensearch"]):
        yield from _private_cluster()


def _private_cluster() -> Iterator[dict[str, str]]:
    state = Path(tempfile.mkdtemp(prefix="gameday-search-cluster-"))
    env = {
        **os.environ,
        "GAMEDAY_STATE_DIR": str(state),
        "GAMEDAY_SEARCH_NODES": "3",
        **{k: str(v) for k, v in PORTS.items()},
    }
    pids: list[int] = []
    try:
        up = gameday("stack", "up", "--only", SUBSET, env=env)
        assert up.returncode == 0, up.stdout + up.stderr
        pids = [int(n["pid"]) for n in _nodes(env)]
        yield env
    finally:
        # `down` acts on the running topology without the flag: every JVM goes
        down = gameday("stack", "down", "--purge", env={**env, "GAMEDAY_SEARCH_NODES": "1"})
        shutil.rmtree(state, ignore_errors=True)
        assert down.returncode == 0, down.stdout + down.stderr
        assert not any(process.group_members(pid) for pid in pids), pids


def _status(env: dict[str, str]) -> tuple[int, dict[str, dict[str, Any]]]:
    result = gameday("stack", "status", "--json", env=env)
    return result.returncode, {c["name"]: c for c in json.loads(result.stdout)["components"]}


def _nodes(env: dict[str, str]) -> list[dict[str, Any]]:
    components = _status(env)[1]
    return [components[name] for name in ("opensearch", "opensearch-1", "opensearch-2")]


def test_three_search_nodes_are_three_processes_each_behind_its_own_proxy(
    cluster_env: dict[str, str],
) -> None:
    """`stack up --search-nodes 3` (this module's stack): three JVMs of one node each, with
    their own pids, 512 MiB heaps, transport addresses and client proxies, one elected
    manager; a running stack of another topology is refused in one line."""
    code, _ = _status(cluster_env)
    assert code == 1  # the components outside --only are not running
    nodes = _nodes(cluster_env)
    assert all(n["healthy"] is True for n in nodes), nodes
    pids = [n["pid"] for n in nodes]
    assert len(set(pids)) == 3 and all(isinstance(p, int) for p in pids)
    assert [n["role"] for n in nodes].count("elected manager") == 1, nodes
    base = PORTS["GAMEDAY_OPENSEARCH_PROXY_PORT"]
    assert [[p["listen"] for p in n["proxies"]] for n in nodes] == [
        [f"127.0.0.1:{base + i}"] for i in range(3)
    ]
    transport = PORTS["GAMEDAY_OPENSEARCH_TRANSPORT_PORT"]
    for i, pid in enumerate(pids):
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert b"-Xmx512m" in argv  # one node per JVM, 512 MiB each
        assert f"transport.host=127.0.0.{2 + i}".encode() in argv
        assert f"transport.port={transport + i}".encode() in argv
    names = set()
    for i in range(3):
        with urllib.request.urlopen(f"http://127.0.0.1:{base + i}/", timeout=10) as response:
            names.add(json.load(response)["name"])
        health = f"http://127.0.0.1:{base + i}/_cluster/health"
        with urllib.request.urlopen(health, timeout=10) as response:
            assert json.load(response)["number_of_nodes"] == 3
    assert names == {"node-0", "node-1", "node-2"}
    one_node = {**cluster_env, "GAMEDAY_SEARCH_NODES": "1"}
    refused = gameday("stack", "up", "--only", "toxiproxy,opensearch", env=one_node)
    assert refused.returncode == 2
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "3 search node(s), not 1" in lines[0], refused.stderr


def _settings(env: dict[str, str]) -> StackSettings:
    ports = {k.removeprefix("GAMEDAY_").lower(): v for k, v in PORTS.items()}
    return StackSettings.model_validate(
        {"state_dir": Path(env["GAMEDAY_STATE_DIR"]), "search_nodes": 3, **ports}
    )


@pytest.fixture
def on_private_stack(cluster_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> StackSettings:
    """The providers read the stack from GAMEDAY_* (as `chaos run` does, a subprocess of
    `gameday run` with its environment)."""
    for key, value in cluster_env.items():
        if key.startswith("GAMEDAY_"):
            monkeypatch.setenv(key, value)
    return _settings(cluster_env)


def _manager(settings: StackSettings) -> str:
    managers = {v.manager for v in ask_every_node(settings).values()}
    assert len(managers) == 1 and None not in managers, managers
    return str(managers.pop())


def _whole(settings: StackSettings) -> bool:
    views = ask_every_node(settings).values()
    return all(len(v.members) == 3 and v.manager is not None for v in views)


def test_a_partitioned_node_is_dropped_by_the_majority_no_two_managers_and_it_rejoins(
    on_private_stack: StackSettings, tmp_path: Path
) -> None:
    settings = on_private_stack
    eventually(lambda: _whole(settings), timeout_s=60)
    manager = _manager(settings)
    cut = next(i for i in range(3) if node_name(i) != manager)  # a follower
    configuration = configuration_for(tmp_path)
    watched: list[ClusterWatch] = []
    stop = threading.Event()
    watcher = threading.Thread(
        target=lambda: watched.append(
            watch_cluster(settings, duration_s=PARTITION_S + REJOIN_S, stop=stop)
        )
    )
    watcher.start()
    try:
        partition_nodes([cut], configuration)
        assert len(leftover_partitions()) == 4  # two nodes x both directions
        eventually(lambda: _dropped(settings, cut), timeout_s=PARTITION_S, every_s=0.5)
    finally:
        heal_partition([cut], configuration)
        assert leftover_partitions() == []
        try:
            eventually(lambda: _whole(settings), timeout_s=REJOIN_S)
        finally:
            stop.set()
            watcher.join()
    watch = watched[0]
    # at no check did two nodes name two different managers
    assert watch.split_brain_checks == [], watch.split_brain_checks
    dropped_s = watch.first_dropped_s(node_name(cut))
    assert dropped_s is not None, "the majority never dropped the cut node"
    log.info(
        "cut node dropped after %.1f s (follower checks %s s), %d checks, managers named %s",
        dropped_s,
        FOLLOWER_CHECK_BOUND_S,
        len(watch.checks),
        watch.summary()["managers_named"],
    )
    # the cut node rejoined: every node lists all three again, with one manager
    assert watch.last_complete_s(3) is not None, watch.checks[-1]
    assert _whole(settings)
    events = (tmp_path / "events.jsonl").read_text()
    assert f'"opensearch-partition-{node_name(cut)}"' in events


def _dropped(settings: StackSettings, cut: int) -> bool:
    views = ask_every_node(settings)
    others = [v for n, v in views.items() if n != node_name(cut)]
    return all(v.members and node_name(cut) not in v.members for v in others)


# The experiments, under load, against a service of the test's own: its OpenSearch is the
# private cluster (every node's proxy, 1 replica) and its PostgreSQL the private one (the
# reconciliation reads both); Redis and RabbitMQ are the session stack's, namespaced.


@pytest.fixture
def cluster_service(
    stack: StackSettings, cluster_env: dict[str, str], tmp_path: Path
) -> Iterator[str]:
    """The service and its indexer on the private cluster; yields the service's URL."""
    private = _settings(cluster_env)
    namespace = f"t{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        **service_env(stack),
        "SERVICE_POSTGRES_DSN": private.postgres_dsn,
        "SERVICE_OPENSEARCH_HOSTS": ",".join(private.opensearch_urls),
        "SERVICE_OPENSEARCH_REPLICAS": "1",
        "SERVICE_REDIS_PREFIX": f"{namespace}:",
        "SERVICE_AMQP_QUEUE": f"{namespace}.index",
        "SERVICE_AMQP_EXCHANGE": namespace,
        "SERVICE_OUTBOX_POLL_INTERVAL_S": "0.2",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
    }
    port = free_port()
    procs = [start_uvicorn(port, env, tmp_path / "service.log")]
    try:
        wait_ready(f"http://127.0.0.1:{port}", procs, tmp_path)  # declares the queue
        # three cold JVMs answer their first concurrent searches slowly enough to open
        # the service's search breaker: warmed as `stack up` warms the stack's own
        warm_up(private, log.info)
        with open(tmp_path / "indexer.log", "wb") as indexer_log:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "service.indexer"],
                    env=env,
                    cwd=PROJECT_ROOT,
                    stdout=indexer_log,
                    stderr=subprocess.STDOUT,
                )
            )
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_processes(*procs)
        # only the queue, the exchange and the keys are on the session stack
        named = {**env, "SERVICE_POSTGRES_SCHEMA": namespace, "SERVICE_OPENSEARCH_ALIAS": namespace}
        drop_namespace(stack, named)


def _run_experiment(
    name: str, url: str, env: dict[str, str], out: Path, *variables: str
) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """`gameday run` of experiments/NAME.json under search and write load; returns the
    summary, the experiment's outcome and the events."""
    result = gameday_cli(
        "run",
        "--scenario",
        "write_heavy",
        "--rate",
        "12",
        "--target",
        url,
        "--experiment",
        str(PROJECT_ROOT / "experiments" / f"{name}.json"),
        *(arg for v in variables for arg in ("--var", v)),
        "--rpo-grace",
        "30s",
        "--out",
        str(out),
        env=env,
        timeout=240,
    )
    # A verdict: 0 or 1, or 2 when the run was judged invalid (on this shared 2-core
    # machine, three JVMs starve the load generator of CPU); the claims below are
    # asserted from the run directory either way, and only a written report counts.
    assert result.returncode in (0, 1, 2), result.stdout + result.stderr
    summary = json.loads((out / "summary.json").read_text())
    if result.returncode == 2:
        assert summary["verdict"] == "error" and summary["reasons"], result.stdout
    outcome = json.loads((out / "experiment.json").read_text())
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    log.info("%s: verdict %s, experiment %s", name, summary["verdict"], outcome["verdict"])
    shown = ("type", "name", "probe", "ok", "value", "attributes", "t_s")
    for event in events:
        if event["type"] in ("hypothesis_checked", "fault_injected", "fault_removed"):
            log.info("%s: %s", name, {k: event.get(k) for k in shown})
    for o in summary["objectives"]:
        if o["phase"].startswith("fault:") or o["scope"].startswith("experiment:"):
            log.info("%s: %s = %s (%s)", name, o["name"], o["measured"], o["passed"])
    return summary, outcome, events


def _probe(events: list[dict[str, Any]], probe: str) -> dict[str, Any]:
    found = [e for e in events if e["type"] == "hypothesis_checked" and e["probe"] == probe]
    assert len(found) == 1, [e for e in events if e["type"] == "hypothesis_checked"]
    return dict(found[0])


def _search_error_rate(summary: dict[str, Any], fault: str) -> dict[str, Any]:
    found = [
        o
        for o in summary["objectives"]
        if o["scope"] == f"experiment:{fault}"  # the SLO file's objective for this window
        and "GET /v1/search" in o["name"]
        and o["phase"] == f"fault:{fault}"
        and o["metric"] == "error_rate_pct"
    ]
    assert len(found) == 1, [o["name"] for o in summary["objectives"]]
    return dict(found[0])


def assert_partition_claims(
    watch: dict[str, Any], events: list[dict[str, Any]], fault_s: float
) -> None:
    """The partition experiment's claims on its watch (every node asked every 0.5 s from
    the cut): checked all, then failed together, so that a run shows every finding."""
    value = watch["value"]
    cut = next(e for e in events if e["type"] == "fault_injected")["attributes"]["cut"]
    # it rejoined: every node listed all three again before the watch ended
    assert value["whole_again_at_s"] is not None, watch
    # the two nodes that kept a quorum never disagreed with each other
    for check in value["split_brain_checks"]:
        majority = {n: m for n, m in check["managers"].items() if n not in cut}
        assert len(set(majority.values())) <= 1, check
    findings = []
    dropped_s = value["dropped_after_s"]
    if dropped_s is None or dropped_s > fault_s:
        findings.append(
            f"the majority did not drop the cut node {cut} within the {fault_s} s cut "
            f"(dropped after {dropped_s} s)"
        )
    split = value["split_brain_checks"]
    if split:  # a node naming none is allowed; two different names are not
        findings.append(
            f"two managers named at {len(split)} of {value['checks']} checks, from "
            f"{split[0]['t_s']} s to {split[-1]['t_s']} s: {split[0]['managers']}"
        )
    assert not findings and watch["ok"] is True, "; ".join(findings)


def _nothing_lost(out: Path) -> None:
    reconciliation = json.loads((out / "reconciliation.json").read_text())
    assert reconciliation["acknowledged"] > 0 and reconciliation["lost"] == 0, reconciliation


def test_the_node_partition_experiment_never_shows_two_managers_loses_nothing_and_rejoins(
    cluster_env: dict[str, str], cluster_service: str, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    summary, outcome, events = _run_experiment(
        "opensearch-node-partition", cluster_service, cluster_env, out,
        f"fault_s={PARTITION_FAULT_S}", f"watch_s={PARTITION_FAULT_S + REJOIN_S}",
    )  # fmt: skip
    assert outcome["error"] is None, outcome
    watch = _probe(events, "one-cluster-manager")
    assert_partition_claims(watch, events, PARTITION_FAULT_S)
    # nothing acknowledged was lost, and no rule of the partition is left
    _nothing_lost(out)
    assert leftover_partitions() == []
    assert summary["verdict"] in ("pass", "fail")


def test_the_node_kill_experiment_keeps_searches_answering_goes_yellow_then_green(
    cluster_env: dict[str, str], cluster_service: str, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    summary, outcome, events = _run_experiment(
        "opensearch-node-kill", cluster_service, cluster_env, out, f"fault_s={KILL_FAULT_S}"
    )
    assert outcome["error"] is None, outcome
    killed = [e for e in events if e["type"] == "fault_injected"]
    assert [e["name"] for e in killed] == ["opensearch-node-killed"], killed
    assert killed[0]["attributes"]["primaries"] >= 1
    assert _probe(events, "cluster-yellow")["ok"] is True
    assert _probe(events, "cluster-green")["ok"] is True
    errors = _search_error_rate(summary, "opensearch-node-killed")
    assert errors["passed"] is True, errors
    _nothing_lost(out)


def test_the_node_freeze_experiment_shows_when_the_node_was_dropped_and_the_search_errors(
    cluster_env: dict[str, str], cluster_service: str, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    summary, outcome, events = _run_experiment(
        "opensearch-node-freeze", cluster_service, cluster_env, out,
        f"fault_s={FREEZE_FAULT_S}", f"watch_s={FREEZE_FAULT_S + REJOIN_S}",
    )  # fmt: skip
    assert outcome["error"] is None, outcome
    watch = _probe(events, "one-cluster-manager")["value"]
    # both measures are there: when the others dropped the frozen node (against the
    # configured bound), and the search error rate in the window, judged by the SLO file
    assert watch["dropped_after_s"] is not None, watch
    assert watch["follower_check_bound_s"] == FOLLOWER_CHECK_BOUND_S
    errors = _search_error_rate(summary, "opensearch-2-frozen")
    assert errors["passed"] in (True, False), errors
    assert watch["whole_again_at_s"] is not None, watch


def test_the_last_resort_reset_deletes_this_stacks_rules_and_leaves_another_stacks() -> None:
    """Real iptables rules, no cluster: what the run's reset (heal_all_partitions) and its
    leftover check (leftover_partitions) see of two stacks' partitions."""
    mine = StackSettings(search_nodes=3, opensearch_transport_port=23900, epmd_port=23969)
    other = StackSettings(search_nodes=3, opensearch_transport_port=23950, epmd_port=23979)
    ensure_chain()
    try:
        for rule in partition_rules(mine, [1]) + partition_rules(other, [2]):
            iptables("-A", CHAIN, *rule)
        assert len(leftover_partitions(mine)) == 4 and len(leftover_partitions(other)) == 4
        heal_all_partitions(mine)
        assert leftover_partitions(mine) == []
        assert len(leftover_partitions(other)) == 4
    finally:
        heal_all_partitions(mine)
        heal_all_partitions(other)
    assert leftover_partitions(other) == []


def test_ctrl_c_during_a_partition_leaves_no_rule_behind(
    cluster_env: dict[str, str], cluster_service: str, tmp_path: Path
) -> None:
    """Ctrl-C (SIGINT to the run's process group, as a terminal sends it) while the cut
    is in place: the rollback and the last-resort reset leave no rule of this stack."""
    out = tmp_path / "run"
    argv = [*GAMEDAY, "run", "--scenario", "write_heavy", "--rate", "5"]
    argv += ["--target", cluster_service, "--out", str(out), "--var", "fault_s=60"]
    argv += ["--experiment", str(PROJECT_ROOT / "experiments" / "opensearch-node-partition.json")]
    with open(tmp_path / "run.log", "wb") as log:
        run = subprocess.Popen(
            argv, env=cluster_env, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, preexec_fn=interruptible,  # even under `make test &`
        )  # fmt: skip
    try:
        eventually(lambda: leftover_partitions(_settings(cluster_env)), timeout_s=60, every_s=0.5)
        os.killpg(run.pid, signal.SIGINT)
        run.wait(timeout=120)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
        heal_all_partitions(_settings(cluster_env))  # only if the test failed
    assert run.returncode == 130, (tmp_path / "run.log").read_text()[-2000:]
    assert leftover_partitions(_settings(cluster_env)) == []
    events = (out / "events.jsonl").read_text()
    assert '"fault_removed"' in events and "opensearch-partition-manager" in events
