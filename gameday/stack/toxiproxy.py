"""Toxiproxy v2.12.0, built with `go install` into the state dir's tools."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gameday.stack.component import Component, Health, Launch
from gameday.toxiproxy import ToxiproxyClient

VERSION = "v2.12.0"


class Toxiproxy(Component):
    name = "toxiproxy"

    @property
    def port(self) -> int:
        return self.settings.toxiproxy_port

    @property
    def server_binary(self) -> Path:
        return self.settings.tools_dir / "bin" / "toxiproxy-server"

    @property
    def cli_binary(self) -> Path:
        return self.settings.tools_dir / "bin" / "toxiproxy-cli"

    def missing(self) -> str | None:
        if not self.server_binary.exists() or not self.cli_binary.exists():
            return "toxiproxy is not built: run `make bootstrap`"
        return None

    def launch(self) -> Launch:
        return Launch(
            argv=[str(self.server_binary), "-host", self.settings.host, "-port", str(self.port)]
        )

    async def check(self) -> Health:
        def probe() -> str:
            with ToxiproxyClient(self.settings.toxiproxy_url, timeout_s=2.0) as client:
                return client.version()

        version = await asyncio.to_thread(probe)
        return Health(healthy=True, version=version)
