"""What each node of the stack's search cluster says about the cluster, asked of every
node at once, again and again (Chaos Toolkit probes; also used directly by tests).

    view = ask_every_node(settings)          # one check: {node-0: NodeView(...), ...}
    watch = watch_cluster(settings, duration_s=20)
    watch.split_brain_checks                 # checks where two nodes named two managers
    watch.first_dropped_s("node-2")          # when the others stopped listing node-2

Each node is asked on its own HTTP port (not through its client proxy: the harness
watches the cluster, it is not a client), with a short timeout: a node that does not
answer (frozen, killed) names no manager and lists nobody.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from gameday.chaos.events import Configuration, run_dir_of
from gameday.errors import StackError
from gameday.rundir import FaultInjected, FaultRemoved, HypothesisChecked
from gameday.settings import StackSettings
from gameday.stack import (
    FOLLOWER_CHECK_BOUND_S,
    component_name,
    node_name,
    read_tracked,
    recorded_settings,
    up,
)

__all__ = [
    "ClusterWatch",
    "NodeView",
    "ask_every_node",
    "cluster_has_nodes",
    "elected_manager",
    "kill_node_with_primaries",
    "restart_search_nodes",
    "wait_for_cluster_health",
    "watch_cluster",
    "watch_cluster_managers",
    "watch_search_cluster",
]

ASK_TIMEOUT_S = 1.0
NODE_KILLED = "opensearch-node-killed"  # the node-kill fault, whichever node it hit


@dataclass(frozen=True)
class NodeView:
    manager: str | None  # the elected cluster manager it names; None: none or no answer
    members: frozenset[str]  # the nodes its `_cat/nodes` lists


@dataclass
class ClusterWatch:
    started: float
    checks: list[tuple[float, dict[str, NodeView]]] = field(default_factory=list)

    @property
    def split_brain_checks(self) -> list[tuple[float, dict[str, str]]]:
        """(seconds, {node: manager}) of every check where two nodes named two managers."""
        out = []
        for t_s, views in self.checks:
            named = {n: v.manager for n, v in views.items() if v.manager is not None}
            if len(set(named.values())) > 1:
                out.append((t_s, named))
        return out

    def first_dropped_s(self, node: str) -> float | None:
        """Seconds until every other node that answered no longer listed `node`."""
        for t_s, views in self.checks:
            others = [v for n, v in views.items() if n != node and v.members]
            if others and all(node not in v.members for v in others):
                return t_s
        return None

    def last_complete_s(self, nodes: int) -> float | None:
        """The first check after which every node listed all `nodes` to the end."""
        complete: float | None = None
        for t_s, views in self.checks:
            if all(len(v.members) == nodes for v in views.values()):
                complete = t_s if complete is None else complete
            else:
                complete = None
        return complete

    def summary(self) -> dict[str, Any]:
        return {
            "checks": len(self.checks),
            "split_brain_checks": [
                {"t_s": round(t, 2), "managers": m} for t, m in self.split_brain_checks
            ],
            "managers_named": sorted(
                {v.manager for _, views in self.checks for v in views.values() if v.manager}
            ),
        }


async def _ask(client: httpx.AsyncClient, base: str) -> NodeView:
    """The node's own cluster state (`local`: no fan-out to other nodes, which would wait
    on a cut or frozen one): the nodes it lists (as `_cat/nodes` would) and its manager."""
    try:
        response = await client.get(
            f"{base}/_cluster/state/nodes,master_node", params={"local": "true"}
        )
        state = response.json() if response.status_code == 200 else {}
    except (httpx.HTTPError, ValueError):
        return NodeView(manager=None, members=frozenset())
    nodes = {node_id: node.get("name", node_id) for node_id, node in state.get("nodes", {}).items()}
    manager = nodes.get(state.get("master_node") or "")
    return NodeView(manager=manager, members=frozenset(nodes.values()))


async def _ask_all(settings: StackSettings) -> dict[str, NodeView]:
    async with httpx.AsyncClient(timeout=ASK_TIMEOUT_S) as client:
        views = await asyncio.gather(
            *(
                _ask(client, f"http://{settings.host}:{settings.opensearch_port + i}")
                for i in range(settings.search_nodes)
            )
        )
    return {node_name(i): v for i, v in enumerate(views)}


def ask_every_node(settings: StackSettings) -> dict[str, NodeView]:
    return asyncio.run(_ask_all(settings))


def watch_cluster(
    settings: StackSettings,
    *,
    duration_s: float,
    interval_s: float = 0.5,
    stop: threading.Event | None = None,
) -> ClusterWatch:
    """Ask every node, every `interval_s`, for `duration_s` (or until `stop` is set)."""
    watch = ClusterWatch(started=time.monotonic())
    end = watch.started + duration_s
    while True:
        stopping = stop is not None and stop.is_set()  # one more check once it is set
        t0 = time.monotonic()
        views = ask_every_node(settings)
        watch.checks.append((t0 - watch.started, views))
        if stopping or time.monotonic() >= end:
            return watch
        time.sleep(max(0.0, interval_s - (time.monotonic() - t0)))


def watch_cluster_managers(
    duration_s: float, interval_s: float = 0.5, configuration: Configuration | None = None
) -> bool:
    """Probe: True when at no check did two nodes name two different cluster managers (a
    node naming none is allowed); what it saw goes on the timeline."""
    run_dir = run_dir_of(configuration)
    watch = watch_cluster(
        recorded_settings(StackSettings()), duration_s=float(duration_s), interval_s=interval_s
    )
    held = not watch.split_brain_checks
    run_dir.append_event(
        HypothesisChecked(
            phase="during", probe="one-cluster-manager", ok=held, value=watch.summary()
        )
    )
    return held


def cluster_has_nodes(configuration: Configuration | None = None) -> bool:
    """Probe: every node answers and lists every node of the stack's cluster."""
    settings = recorded_settings(StackSettings())
    views = ask_every_node(settings)
    return all(len(v.members) == settings.search_nodes for v in views.values())


# Providers of the search-cluster experiments (opensearch-node-kill, -partition, -freeze)


def _stack() -> StackSettings:
    return recorded_settings(StackSettings())


def _shards(settings: StackSettings, index: str) -> list[dict[str, Any]]:
    """`_cat/shards` of `index`, asked of the first node that answers."""
    for i in range(settings.search_nodes):
        try:
            response = httpx.get(
                f"http://{settings.host}:{settings.opensearch_port + i}/_cat/shards/{index}",
                params={"format": "json", "h": "prirep,state,node"},
                timeout=5.0,
            )
        except httpx.HTTPError:
            continue
        if response.status_code == 200:
            return list(response.json())
    raise StackError(f"no search node answered `_cat/shards/{index}`: is the cluster up?")


def kill_node_with_primaries(
    index: str = "documents", configuration: Configuration | None = None
) -> str:
    """SIGKILL the search node that holds the most primary shards of `index` (its
    process group); the fault `opensearch-node-killed` lasts until `restart_search_nodes`."""
    run_dir = run_dir_of(configuration)
    settings = _stack()
    primaries: dict[str, int] = {}
    for shard in _shards(settings, index):
        if shard.get("prirep") == "p" and shard.get("state") == "STARTED":
            primaries[str(shard["node"])] = primaries.get(str(shard["node"]), 0) + 1
    if not primaries:
        raise StackError(f"no started primary shard of {index!r} in the search cluster")
    victim = max(primaries, key=lambda name: primaries[name])
    node = next(i for i in range(settings.search_nodes) if node_name(i) == victim)
    component = component_name(node)
    tracked = read_tracked(settings.run_dir, component)
    if tracked is None or not tracked.is_alive():
        raise StackError(f"{component} is not running: start it with `gameday stack up`")
    os.killpg(tracked.pid, signal.SIGKILL)
    run_dir.append_event(
        FaultInjected(
            name=NODE_KILLED,
            target=component,
            fault="SIGKILL",
            attributes={"node": victim, "pid": tracked.pid, "primaries": primaries[victim]},
        )
    )
    return NODE_KILLED


def restart_search_nodes(configuration: Configuration | None = None) -> None:
    """Start every search node that is down again and wait until the cluster has them
    all (idempotent, like `stack up`); ends `opensearch-node-killed` on the timeline."""
    run_dir = run_dir_of(configuration)
    up(_stack(), lambda line: None, only=["opensearch"])
    run_dir.append_event(FaultRemoved(name=NODE_KILLED, target="opensearch"))


def _health(settings: StackSettings) -> str | None:
    for i in range(settings.search_nodes):
        try:
            response = httpx.get(
                f"http://{settings.host}:{settings.opensearch_port + i}/_cluster/health",
                timeout=ASK_TIMEOUT_S,
            )
        except httpx.HTTPError:
            continue
        if response.status_code == 200:
            return str(response.json().get("status"))
    return None


def wait_for_cluster_health(
    status: str,
    fault: str,
    timeout_s: float = 60.0,
    configuration: Configuration | None = None,
) -> bool:
    """Probe: True once the cluster's health (asked of the first node that answers) is
    `status`, within `timeout_s`; the seconds it took go on the timeline."""
    run_dir = run_dir_of(configuration)
    settings = _stack()
    started = time.monotonic()
    seen: list[str] = []
    while True:
        health = _health(settings)
        if health is not None and (not seen or seen[-1] != health):
            seen.append(health)
        waited_s = time.monotonic() - started
        if health == status or waited_s >= float(timeout_s):
            break
        time.sleep(0.25)
    ok = health == status
    run_dir.append_event(
        HypothesisChecked(
            phase=f"fault:{fault}",  # shown in the report under that fault window
            probe=f"cluster-{status}",
            ok=ok,
            value={"after_s": round(waited_s, 2), "seen": seen},
        )
    )
    return ok


def elected_manager(settings: StackSettings) -> int:
    """The node that the nodes answering name as their cluster manager (the most named)."""
    named = [v.manager for v in ask_every_node(settings).values() if v.manager is not None]
    if not named:
        raise StackError("no search node names a cluster manager: is the cluster up?")
    manager = max(set(named), key=named.count)
    return next(i for i in range(settings.search_nodes) if node_name(i) == manager)


def watch_search_cluster(
    duration_s: float,
    node: int | str,
    fault: str,
    interval_s: float = 0.5,
    configuration: Configuration | None = None,
) -> bool:
    """Probe (run it in the background, beside the fault on `node`): every node asked
    every `interval_s` for `duration_s` (`node` "manager": the elected one when the watch
    starts). True when at no check did two nodes name two different cluster managers (a
    node naming none is allowed). On the timeline, in the fault window `fault`: that, the
    seconds until the other nodes no longer listed `node` (from the watch's start, which
    is the fault's) against the follower-check bound, and when every node listed every
    node again."""
    run_dir = run_dir_of(configuration)
    settings = _stack()
    if node == "manager":  # the one a partition of "manager" cuts, asked at the same moment
        node = elected_manager(settings)
    node = int(node)
    watch = watch_cluster(settings, duration_s=float(duration_s), interval_s=interval_s)
    held = not watch.split_brain_checks
    dropped_s = watch.first_dropped_s(node_name(node))
    run_dir.append_event(
        HypothesisChecked(
            phase=f"fault:{fault}",  # shown in the report under that fault window
            probe="one-cluster-manager",
            ok=held,
            value={
                **watch.summary(),
                "node": node_name(node),
                "dropped_after_s": None if dropped_s is None else round(dropped_s, 2),
                "follower_check_bound_s": FOLLOWER_CHECK_BOUND_S,
                "whole_again_at_s": watch.last_complete_s(settings.search_nodes),
            },
        )
    )
    return held
