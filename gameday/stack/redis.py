"""Redis 7 from Debian's packages: a cache, so no persistence. Under
`--redis-sentinel` it announces its proxy's port and may start as a replica
(gameday/stack/redis_sentinel.py)."""

from __future__ import annotations

import shutil

import redis.asyncio as aioredis

from gameday.stack.component import Component, Health, Launch, proxy
from gameday.toxiproxy import Proxy


class Redis(Component):
    name = "redis"
    dependency = True

    @property
    def port(self) -> int:
        return self.settings.redis_port

    def proxies(self) -> list[Proxy]:
        return [proxy("redis", self.settings.redis_proxy_port, self.port)]

    def missing(self) -> str | None:
        if shutil.which("redis-server") is None:
            return "redis-server is not installed: run `make bootstrap`"
        return None

    def prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def launch(self) -> Launch:
        extra: list[str] = []
        if self.settings.redis_sentinel:
            # imported here: redis_sentinel's replica is a subclass of this class
            from gameday.stack.redis_sentinel import sentinel_redis_args

            extra = sentinel_redis_args(self.settings, self.name)
        return Launch(
            argv=[
                "redis-server",
                "--bind",
                self.settings.host,
                "--port",
                str(self.port),
                "--dir",
                str(self.data_dir),
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--protected-mode",
                "yes",
                *extra,
            ]
        )

    async def check(self) -> Health:
        client = aioredis.Redis(host=self.settings.host, port=self.port, socket_timeout=2.0)
        try:
            pong = await client.ping()
            info = await client.info("server")
        finally:
            await client.aclose()
        return Health(healthy=bool(pong), version=str(info.get("redis_version")))
