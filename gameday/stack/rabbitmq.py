"""RabbitMQ 3.10 from Debian's packages, with its own epmd, all on loopback.

Debian's /usr/sbin/rabbitmq-server switches to the rabbitmq user and reads
/etc/rabbitmq; we run the broker's own script with every path pointed into the
state dir instead. epmd is started in the same process group (not with
-daemon, which would leave the group and outlive `stack up`), and the broker
is started only once epmd answers, so Erlang never spawns a stray one.

`stack up --rabbitmq-nodes 3` runs a cluster instead: components `rabbitmq`,
`rabbitmq-1`, `rabbitmq-2`, one Erlang VM each (`+sbwt none`: no busy-waiting
schedulers on a small machine), node i on its own loopback address, AMQP on the same
port number, each AMQP port behind its own proxy, and one epmd for all of them
(`rabbitmq-epmd`: epmd always binds 127.0.0.1 too, so two cannot share a port, and
a killed node must not take its peers' registrations with it):

    relay, indexer --> proxy rabbitmq   (22672) --> gameday0@127.0.0.13 AMQP :21672
                   --> proxy rabbitmq-1 (22673) --> gameday1@127.0.0.14 AMQP :21672
                   --> proxy rabbitmq-2 (22674) --> gameday2@127.0.0.15 AMQP :21672
    Erlang distribution: 127.0.0.13:21673 <-> 127.0.0.14:21674 <-> 127.0.0.15:21675
    epmd :21369 on 127.0.0.1 and 127.0.0.13-15 (component rabbitmq-epmd), no proxy

Distribution bypasses Toxiproxy (a node connects to the port epmd names), so a
partition drops packets between two nodes' addresses; each node also binds its
outgoing distribution connections to its own address, so a rule on the address pair
matches both directions. Nodes 1 and 2 join node 0 (`rabbitmqctl join_cluster`) on
their first start; after that the cluster is remembered in their data dirs.
`cluster_partition_handling = pause_minority`: a node cut off from the majority
stops its listeners until it sees the majority again, so clients move to the live
side (quorum queues elect their leaders with Raft either way).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import shlex
import shutil
import time
from pathlib import Path

import aiormq

from gameday.errors import StackError
from gameday.settings import StackSettings
from gameday.stack.component import Component, Health, Launch, proxy
from gameday.toxiproxy import Proxy

RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
RABBITMQCTL = Path("/usr/lib/rabbitmq/bin/rabbitmqctl")
MAX_NODES = 5  # StackSettings.rabbitmq_nodes' bound
NET_TICKTIME_S = 10  # a cut peer is declared down after 10-15 s (Erlang's default: 60)
JOIN_TIMEOUT_S = 120.0


def node_component(node: int) -> str:
    """The component (and proxy) name of cluster node `node` (0-based)."""
    return "rabbitmq" if node == 0 else f"rabbitmq-{node}"


def node_address(node: int) -> str:
    """The loopback address cluster node `node` binds (AMQP, distribution, epmd)."""
    return f"127.0.0.{13 + node}"


def node_erlang_name(node: int) -> str:
    return f"gameday{node}@{node_address(node)}"


def ctl_env(settings: StackSettings, node: int) -> dict[str, str]:
    """What `rabbitmqctl -n <node>` needs: the node's cookie (in its HOME) and epmd port."""
    data_dir = settings.data_dir / node_component(node)
    return {
        "HOME": str(data_dir),
        "ERL_EPMD_PORT": str(settings.epmd_port),
        "RABBITMQ_USE_LONGNAME": "true",
        "RABBITMQ_CONF_ENV_FILE": str(data_dir / "rabbitmq-env.conf"),
    }


class RabbitMQ(Component):
    """The single broker, or node `node` of a cluster (`settings.rabbitmq_nodes` > 1)."""

    name = "rabbitmq"
    dependency = True

    def __init__(self, settings: StackSettings, node: int = 0) -> None:
        super().__init__(settings)
        self.node = node
        self.name = node_component(node)

    @classmethod
    def instances(cls, settings: StackSettings) -> list[Component]:
        if settings.rabbitmq_nodes == 1:
            return [cls(settings)]
        nodes: list[Component] = [cls(settings, i) for i in range(settings.rabbitmq_nodes)]
        return [ClusterEpmd(settings), *nodes]

    @classmethod
    def all_names(cls) -> list[str]:
        return [ClusterEpmd.name, *(node_component(i) for i in range(MAX_NODES))]

    @property
    def clustered(self) -> bool:
        return self.settings.rabbitmq_nodes > 1

    @property
    def address(self) -> str:
        return node_address(self.node) if self.clustered else self.settings.host

    @property
    def listen_host(self) -> str:
        return self.address

    @property
    def port(self) -> int:
        return self.settings.rabbitmq_port

    @property
    def dist_port(self) -> int:
        # One epmd knows every node: RabbitMQ refuses a port another node registered.
        return self.settings.rabbitmq_dist_port + self.node

    @property
    def listen_ports(self) -> list[int]:
        if self.clustered:  # epmd is the `rabbitmq-epmd` component's
            return [self.port, self.dist_port]
        return [self.port, self.dist_port, self.settings.epmd_port]

    def proxies(self) -> list[Proxy]:
        if not self.clustered:
            return [proxy("rabbitmq", self.settings.rabbitmq_proxy_port, self.port)]
        return [
            Proxy(
                name=self.name,
                listen=f"{self.settings.host}:{self.settings.rabbitmq_proxy_port + self.node}",
                upstream=f"{self.address}:{self.port}",
            )
        ]

    def missing(self) -> str | None:
        if not RABBITMQ_SERVER.exists() or shutil.which("epmd") is None:
            return "rabbitmq-server is not installed: run `make bootstrap`"
        return None

    def prepare(self) -> None:
        s = self.settings
        (self.data_dir / "mnesia").mkdir(parents=True, exist_ok=True)
        (self.data_dir / "log").mkdir(parents=True, exist_ok=True)
        lines = [
            f"listeners.tcp.1 = {self.address}:{self.port}",
            f"default_user = {s.amqp_user}",
            f"default_pass = {s.amqp_password}",
            "log.console = true",
            "log.console.level = warning",
            "log.file = false",
            # A local machine with a busy disk must not block publishers.
            "disk_free_limit.absolute = 50MB",
        ]
        if self.clustered:
            lines += [
                "cluster_partition_handling = pause_minority",
                f"net_ticktime = {NET_TICKTIME_S}",
            ]
            cookie = self.data_dir / ".erlang.cookie"
            if not cookie.exists():  # the same on every node of this stack
                cookie.write_text(hashlib.sha256(str(s.state_dir).encode()).hexdigest()[:32])
                cookie.chmod(0o400)
        (self.data_dir / "rabbitmq.conf").write_text("\n".join([*lines, ""]))
        (self.data_dir / "enabled_plugins").write_text("[].\n")
        (self.data_dir / "rabbitmq-env.conf").write_text("")

    def launch(self) -> Launch:
        s = self.settings
        epmd = shlex.quote(shutil.which("epmd") or "epmd")
        wait_for_epmd = (
            f"until {epmd} -port {s.epmd_port} -names >/dev/null 2>&1; do sleep 0.1; done; "
        )
        server = f"exec {shlex.quote(str(RABBITMQ_SERVER))}"
        if self.clustered:
            ip = "{" + self.address.replace(".", ",") + "}"
            script = wait_for_epmd + server
            erl_args = (
                "+sbwt none +sbwtdcpu none +sbwtdio none "
                f"-kernel inet_dist_use_interface {ip} "
                # outgoing distribution connections leave from this node's address too
                f"-kernel inet_dist_connect_options [{{ip,{ip}}}]"
            )
            node_env = {
                "RABBITMQ_NODENAME": node_erlang_name(self.node),
                "RABBITMQ_USE_LONGNAME": "true",
            }
        else:
            script = f"{epmd} -address {s.host} -port {s.epmd_port} & " + wait_for_epmd + server
            # The distribution listener binds all interfaces unless told otherwise.
            erl_args = "-kernel inet_dist_use_interface {127,0,0,1}"
            node_env = {"RABBITMQ_NODENAME": "gameday@localhost"}
        return Launch(
            argv=["sh", "-c", script],
            env={
                "HOME": str(self.data_dir),
                **node_env,
                "RABBITMQ_NODE_IP_ADDRESS": self.address,
                "RABBITMQ_NODE_PORT": str(self.port),
                "RABBITMQ_DIST_PORT": str(self.dist_port),
                "ERL_EPMD_PORT": str(s.epmd_port),
                "ERL_EPMD_ADDRESS": s.host,
                "RABBITMQ_MNESIA_BASE": str(self.data_dir / "mnesia"),
                "RABBITMQ_LOG_BASE": str(self.data_dir / "log"),
                "RABBITMQ_CONFIG_FILE": str(self.data_dir / "rabbitmq.conf"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.data_dir / "enabled_plugins"),
                "RABBITMQ_CONF_ENV_FILE": str(self.data_dir / "rabbitmq-env.conf"),
                "RABBITMQ_PID_FILE": str(self.data_dir / "rabbitmq.pid"),
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": erl_args,
            },
            cwd=self.data_dir,
        )

    async def check(self) -> Health:
        s = self.settings
        # A plain TCP connect first: aiormq logs every refused connection as an error.
        _, writer = await asyncio.open_connection(self.address, self.port)
        writer.close()
        url = f"amqp://{s.amqp_user}:{s.amqp_password}@{self.address}:{self.port}/"
        connection = await aiormq.connect(url)
        try:
            version = connection.server_properties.get("version")
            channel = await connection.channel()
            await channel.close()
        finally:
            await connection.close()
        if isinstance(version, bytes):
            version = version.decode()
        return Health(healthy=True, version=str(version))

    @property
    def _joined_marker(self) -> Path:
        return self.data_dir / "joined"

    async def after_healthy(self) -> None:
        """Nodes 1.. join node 0 on their first start (`stop_app`, `join_cluster`,
        `start_app`); node 0 may still be starting, so its answer is waited for."""
        if not self.clustered or self.node == 0 or self._joined_marker.exists():
            return
        first = RabbitMQ(self.settings, 0)
        deadline = time.monotonic() + JOIN_TIMEOUT_S
        while not (await first.checked()).healthy:
            if time.monotonic() > deadline:
                raise StackError(f"{self.name}: node 0 never answered, nothing to join")
            await asyncio.sleep(0.5)
        for args in (["stop_app"], ["join_cluster", node_erlang_name(0)], ["start_app"]):
            await self._ctl(*args)
        while not (await self.checked()).healthy:
            if time.monotonic() > deadline:
                raise StackError(f"{self.name}: not answering AMQP after joining the cluster")
            await asyncio.sleep(0.5)
        self._joined_marker.write_text(node_erlang_name(0) + "\n")

    async def _ctl(self, *args: str) -> str:
        return await rabbitmqctl(self.settings, self.node, *args)


class ClusterEpmd(Component):
    """The cluster's one epmd, on 127.0.0.1 and every node's address."""

    name = "rabbitmq-epmd"

    @property
    def port(self) -> int:
        return self.settings.epmd_port

    def missing(self) -> str | None:
        return None if shutil.which("epmd") else "epmd is not installed: run `make bootstrap`"

    def launch(self) -> Launch:
        addresses = [self.settings.host] + [
            node_address(i) for i in range(self.settings.rabbitmq_nodes)
        ]
        epmd = shutil.which("epmd") or "epmd"
        return Launch(
            argv=[epmd, "-address", ",".join(addresses), "-port", str(self.port)],
            cwd=self.settings.state_dir,
        )

    async def check(self) -> Health:
        # NAMES_REQ: a 2-byte length, then 'n'; the answer starts with epmd's port.
        reader, writer = await asyncio.open_connection(self.settings.host, self.port)
        try:
            writer.write(b"\x00\x01n")
            await writer.drain()
            answer = await reader.read(4)
        finally:
            writer.close()
        if int.from_bytes(answer, "big") != self.port:
            return Health(healthy=False, error=f"unexpected NAMES answer {answer!r}")
        return Health(healthy=True, version="epmd")


def node_answers(settings: StackSettings, node: int) -> bool:
    """Whether cluster node `node` answers AMQP (the stack's own health check)."""
    return asyncio.run(RabbitMQ(settings, node).checked()).healthy


async def rabbitmqctl(settings: StackSettings, node: int, *args: str) -> str:
    """`rabbitmqctl -n <node> ARGS` against cluster node `node`; its stdout."""
    proc = await asyncio.create_subprocess_exec(
        str(RABBITMQCTL),
        "--longnames",
        "-n",
        node_erlang_name(node),
        *args,
        env={**os.environ, **ctl_env(settings, node)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise StackError(
            f"rabbitmqctl {' '.join(args)} on {node_erlang_name(node)} failed "
            f"(exit {proc.returncode}): {(err or out).decode().strip()[-300:]}"
        )
    return out.decode()
