"""A three-node search cluster of three JVMs (`stack up --search-nodes 3`) under faults,
on a PRIVATE stack (toxiproxy, postgres and the three nodes, ports 23xxx, a state dir of
its own under /tmp): partitions are iptables rules and kills are real, so the session
stack's single node is never touched. Never two three-JVM stacks at once: the other
three-node test (test_stack_lifecycle) runs in this same pytest session, one at a time.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gameday.chaos.events import configuration_for
from gameday.chaos.partition import (
    heal_partition,
    leftover_partitions,
    partition_nodes,
)
from gameday.chaos.search_cluster import ClusterWatch, ask_every_node, watch_cluster
from gameday.settings import StackSettings
from gameday.stack import FOLLOWER_CHECK_BOUND_S, node_name
from tests.integration.service.service_helpers import eventually

log = logging.getLogger(__name__)  # figures: pytest -o log_cli=true --log-cli-level=INFO
GAMEDAY = [sys.executable, "-m", "gameday.cli"]
SUBSET = "toxiproxy,postgres,opensearch"
PORTS = {
    "GAMEDAY_TOXIPROXY_PORT": 23474,
    "GAMEDAY_POSTGRES_PORT": 23432,
    "GAMEDAY_POSTGRES_PROXY_PORT": 23442,
    "GAMEDAY_OPENSEARCH_PORT": 23200,
    "GAMEDAY_OPENSEARCH_PROXY_PORT": 23210,
    "GAMEDAY_OPENSEARCH_TRANSPORT_PORT": 23300,
}
PARTITION_S = 45.0  # the longest the cut is held, waiting for the majority to drop the node
REJOIN_S = 30.0  # after the heal, until every node lists all three again


def gameday(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GAMEDAY, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="module")
def cluster_env() -> Iterator[dict[str, str]]:
    """The private three-node stack; yields the environment of `gameday` commands on it."""
    state = Path(tempfile.mkdtemp(prefix="gameday-search-cluster-"))
    env = {
        **os.environ,
        "GAMEDAY_STATE_DIR": str(state),
        "GAMEDAY_SEARCH_NODES": "3",
        **{k: str(v) for k, v in PORTS.items()},
    }
    try:
        up = gameday("stack", "up", "--only", SUBSET, env=env)
        assert up.returncode == 0, up.stdout + up.stderr
        yield env
    finally:
        down = gameday("stack", "down", "--purge", env=env)
        shutil.rmtree(state, ignore_errors=True)
        assert down.returncode == 0, down.stdout + down.stderr


def _settings(env: dict[str, str]) -> StackSettings:
    return StackSettings(
        state_dir=Path(env["GAMEDAY_STATE_DIR"]),
        search_nodes=3,
        **{k.removeprefix("GAMEDAY_").lower(): v for k, v in PORTS.items()},
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
