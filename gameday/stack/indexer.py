"""The indexer (``python -m service.indexer``): healthy when it consumes the queue."""

from __future__ import annotations

import sys

import aio_pika

from gameday.settings import PROJECT_ROOT
from gameday.stack.component import Component, Health, Launch
from service.settings import AmqpSettings, env_for_stack


class Indexer(Component):
    name = "indexer"
    after_proxies = True

    @property
    def port(self) -> int:
        return 0  # listens on nothing

    @property
    def listen_ports(self) -> list[int]:
        return []

    def missing(self) -> str | None:
        return None

    def launch(self) -> Launch:
        return Launch(
            argv=[sys.executable, "-m", "service.indexer"],
            env=env_for_stack(self.settings),
            cwd=PROJECT_ROOT,
        )

    async def check(self) -> Health:
        queue_name = AmqpSettings().queue
        connection = await aio_pika.connect(self.settings.amqp_url, timeout=2.0)
        try:
            channel = await connection.channel()
            queue = await channel.declare_queue(queue_name, passive=True)
            consumers = int(queue.declaration_result.consumer_count or 0)
        finally:
            await connection.close()
        if consumers < 1:
            return Health(healthy=False, error=f"no consumer on queue {queue_name}")
        return Health(healthy=True, version=f"{consumers} consumer(s)")
