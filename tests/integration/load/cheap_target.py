"""A target that costs next to nothing to answer, so the load generator is the only
possible bottleneck: every request gets 200 and `{"hits": []}` at once (a search with no
hits, which the scenarios accept), over HTTP/1.1 keep-alive.

With `--knee-rps N --slow-ms M` it has a known capacity instead: within each wall-clock
second, the requests after the first N are answered M ms late. A rate well under N is all
fast on any machine; a rate well over N has a slow tail that breaks a tight p95. That is
what a capacity search needs to find, without depending on how fast this machine is.

With `--record FILE` it appends each request's head (request line and headers, as one
JSON string a line), so a test can see what the load sent.

It shares no code with the harness or the service. Run it as its own process:

    python -m tests.integration.load.cheap_target   # prints "ready PORT" once listening

or from a test, `with serving() as url:`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

_BODY = b'{"hits": [], "total": 0}'
_RESPONSE = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: application/json\r\n"
    b"Content-Length: " + str(len(_BODY)).encode() + b"\r\n"
    b"\r\n" + _BODY
)


@dataclass
class Knee:
    """Counts requests per wall-clock second; the ones past `rps` wait `slow_s`."""

    rps: int | None
    slow_s: float
    second: int = 0
    seen: int = 0

    def delay_s(self) -> float:
        if self.rps is None:
            return 0.0
        now = int(time.time())
        if now != self.second:
            self.second, self.seen = now, 0
        self.seen += 1
        return self.slow_s if self.seen > self.rps else 0.0


class _Answer(asyncio.Protocol):
    """Answers every complete request in the buffer (pipelined or not), in order."""

    def __init__(self, knee: Knee, record: IO[str] | None = None) -> None:
        self.knee = knee
        self.record = record
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.not_before = 0.0  # a late answer holds back the ones behind it on this connection

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
            if self.record is not None:
                self.record.write(json.dumps(self.buffer[:end].decode(errors="replace")) + "\n")
                self.record.flush()
            self.buffer = self.buffer[end + 4 + length :]
            self._answer()

    def _answer(self) -> None:
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        at = max(self.not_before, loop.time() + self.knee.delay_s())
        if at <= loop.time():
            self.transport.write(_RESPONSE)
            return
        self.not_before = at
        loop.call_at(at, self._write_if_open)

    def _write_if_open(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(_RESPONSE)


async def _serve(knee: Knee, record: IO[str] | None = None) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Answer(knee, record), "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    print(f"ready {port}", flush=True)  # noqa: T201  (the parent waits for this line)
    async with server:
        await server.serve_forever()


@contextmanager
def serving(*args: str) -> Iterator[str]:
    """Starts the target as its own process with `args`; yields its URL."""
    root = Path(__file__).resolve().parents[3]
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.load.cheap_target", *args],
        stdout=subprocess.PIPE,
        cwd=root,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 30.0)
        line = process.stdout.readline().decode() if ready else ""
        assert line.startswith("ready "), f"the cheap target did not start: {line!r}"
        yield f"http://127.0.0.1:{int(line.split()[1])}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--knee-rps", type=int, default=None)
    parser.add_argument("--slow-ms", type=float, default=100.0)
    parser.add_argument("--record", type=Path, default=None)
    options = parser.parse_args()
    knee = Knee(rps=options.knee_rps, slow_s=options.slow_ms / 1000)
    if options.record is None:
        asyncio.run(_serve(knee))
        return
    with open(options.record, "a") as record:
        asyncio.run(_serve(knee, record))


if __name__ == "__main__":
    _main()
