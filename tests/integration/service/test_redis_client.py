"""The service's Redis client against the session's real Redis: a pooled connection the
server closed while it sat idle costs one retry, never a failed call."""

from __future__ import annotations

import asyncio
import time

import redis

from gameday.settings import StackSettings
from service.deps.redis import create_client
from service.settings import RedisSettings


def _wait_gone(admin: redis.Redis, client_id: int) -> None:
    """Blocking on purpose: the client's event loop must not run meanwhile."""
    deadline = time.monotonic() + 5.0
    while any(c["id"] == str(client_id) for c in admin.client_list()):
        assert time.monotonic() < deadline, f"Redis did not close client {client_id}"


def test_a_pooled_connection_closed_by_the_server_is_replaced_within_the_call(
    stack: StackSettings,
) -> None:
    url = f"redis://{stack.host}:{stack.redis_port}/0"

    async def scenario() -> bytes:
        client = create_client(RedisSettings(url=url, max_connections=1, timeout_s=1.0))
        try:
            killed = await client.client_id()
            with redis.Redis(host=stack.host, port=stack.redis_port) as admin:
                admin.client_kill_filter(_id=killed)
                _wait_gone(admin, killed)
            # The close is in the socket, unread: the pool's check passes this connection.
            answer: bytes = await client.echo("still here")
            assert await client.client_id() != killed
            return answer
        finally:
            await client.aclose(close_connection_pool=True)

    assert asyncio.run(scenario()) == b"still here"
