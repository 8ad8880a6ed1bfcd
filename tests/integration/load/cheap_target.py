"""A target that costs next to nothing to answer, so the load generator is the only
possible bottleneck: every request gets 200 and `{"hits": []}` at once (a search with no
hits, which the scenarios accept), over HTTP/1.1 keep-alive.

It shares no code with the harness or the service. Run it as its own process:

    python -m tests.integration.load.cheap_target   # prints "ready PORT" once listening
"""

from __future__ import annotations

import asyncio

_BODY = b'{"hits": [], "total": 0}'
_RESPONSE = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: application/json\r\n"
    b"Content-Length: " + str(len(_BODY)).encode() + b"\r\n"
    b"\r\n" + _BODY
)


class _Answer(asyncio.Protocol):
    """Answers every complete request in the buffer (pipelined or not)."""

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].lower()
            length = 0
            at = head.find(b"content-length:")
            if at >= 0:
                length = int(head[at + 15 :].split(b"\r\n", 1)[0])
            if len(self.buffer) < end + 4 + length:
                return  # the body is still coming
            self.buffer = self.buffer[end + 4 + length :]
            assert self.transport is not None
            self.transport.write(_RESPONSE)


async def _serve() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Answer, "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    print(f"ready {port}", flush=True)  # noqa: T201  (the parent waits for this line)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(_serve())
