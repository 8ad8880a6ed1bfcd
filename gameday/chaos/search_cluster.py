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
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from gameday.chaos.events import Configuration, run_dir_of
from gameday.rundir import HypothesisChecked
from gameday.settings import StackSettings
from gameday.stack import node_name, recorded_settings

__all__ = [
    "ClusterWatch",
    "NodeView",
    "ask_every_node",
    "cluster_has_nodes",
    "watch_cluster",
    "watch_cluster_managers",
]

ASK_TIMEOUT_S = 1.0


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
