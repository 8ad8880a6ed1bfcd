"""Everything the lifespan opens, in one object on ``app.state.runtime``."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import redis.asyncio as aioredis
from opensearchpy import AsyncOpenSearch

from service.deps.rabbitmq import Publisher
from service.search.cache import SearchCache
from service.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    pool: asyncpg.Pool
    redis: aioredis.Redis
    opensearch: AsyncOpenSearch
    amqp: Any
    publisher: Publisher
    cache: SearchCache
    outbox_wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    background: set[asyncio.Task[Any]] = field(default_factory=set)

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Fire and forget, keeping a reference so the task is not collected."""
        task = asyncio.get_running_loop().create_task(coro)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
