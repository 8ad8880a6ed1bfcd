"""RabbitMQ 3.10 from Debian's packages, with its own epmd, all on loopback.

Debian's /usr/sbin/rabbitmq-server switches to the rabbitmq user and reads
/etc/rabbitmq; we run the broker's own script with every path pointed into the
state dir instead. epmd is started in the same process group (not with
-daemon, which would leave the group and outlive `stack down`), and the broker
is started only once epmd answers, so Erlang never spawns a stray one.
"""

from __future__ import annotations

import asyncio
import shlex
import shutil
from pathlib import Path

import aiormq

from gameday.stack.component import Component, Health, Launch, proxy
from gameday.toxiproxy import Proxy

RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")


class RabbitMQ(Component):
    name = "rabbitmq"
    dependency = True

    @property
    def port(self) -> int:
        return self.settings.rabbitmq_port

    @property
    def listen_ports(self) -> list[int]:
        return [self.port, self.settings.rabbitmq_dist_port, self.settings.epmd_port]

    def proxies(self) -> list[Proxy]:
        return [proxy("rabbitmq", self.settings.rabbitmq_proxy_port, self.port)]

    def missing(self) -> str | None:
        if not RABBITMQ_SERVER.exists() or shutil.which("epmd") is None:
            return "rabbitmq-server is not installed: run `make bootstrap`"
        return None

    def prepare(self) -> None:
        s = self.settings
        (self.data_dir / "mnesia").mkdir(parents=True, exist_ok=True)
        (self.data_dir / "log").mkdir(parents=True, exist_ok=True)
        (self.data_dir / "rabbitmq.conf").write_text(
            "\n".join(
                [
                    f"listeners.tcp.1 = {s.host}:{self.port}",
                    f"default_user = {s.amqp_user}",
                    f"default_pass = {s.amqp_password}",
                    "log.console = true",
                    "log.console.level = warning",
                    "log.file = false",
                    # A local machine with a busy disk must not block publishers.
                    "disk_free_limit.absolute = 50MB",
                    "",
                ]
            )
        )
        (self.data_dir / "enabled_plugins").write_text("[].\n")
        (self.data_dir / "rabbitmq-env.conf").write_text("")

    def launch(self) -> Launch:
        s = self.settings
        epmd = shlex.quote(shutil.which("epmd") or "epmd")
        script = (
            f"{epmd} -address {s.host} -port {s.epmd_port} & "
            f"until {epmd} -port {s.epmd_port} -names >/dev/null 2>&1; do sleep 0.1; done; "
            f"exec {shlex.quote(str(RABBITMQ_SERVER))}"
        )
        return Launch(
            argv=["sh", "-c", script],
            env={
                "HOME": str(self.data_dir),
                "RABBITMQ_NODENAME": "gameday@localhost",
                "RABBITMQ_NODE_IP_ADDRESS": s.host,
                "RABBITMQ_NODE_PORT": str(self.port),
                "RABBITMQ_DIST_PORT": str(s.rabbitmq_dist_port),
                "ERL_EPMD_PORT": str(s.epmd_port),
                "ERL_EPMD_ADDRESS": s.host,
                "RABBITMQ_MNESIA_BASE": str(self.data_dir / "mnesia"),
                "RABBITMQ_LOG_BASE": str(self.data_dir / "log"),
                "RABBITMQ_CONFIG_FILE": str(self.data_dir / "rabbitmq.conf"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.data_dir / "enabled_plugins"),
                "RABBITMQ_CONF_ENV_FILE": str(self.data_dir / "rabbitmq-env.conf"),
                "RABBITMQ_PID_FILE": str(self.data_dir / "rabbitmq.pid"),
                # The distribution listener binds all interfaces unless told otherwise.
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": (
                    "-kernel inet_dist_use_interface {127,0,0,1}"
                ),
            },
            cwd=self.data_dir,
        )

    async def check(self) -> Health:
        s = self.settings
        # A plain TCP connect first: aiormq logs every refused connection as an error.
        _, writer = await asyncio.open_connection(s.host, self.port)
        writer.close()
        url = f"amqp://{s.amqp_user}:{s.amqp_password}@{s.host}:{self.port}/"
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
