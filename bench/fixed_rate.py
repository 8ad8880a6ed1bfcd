"""A fixed-rate (open model) HTTP/1.1 load generator with exact HDR percentiles,
for benchmark 3's latency at 50% and 70% of saturation (wrk2 is not in Debian).

Request i is due at start + i / rate; it goes out on an idle keep-alive connection,
and its latency is counted from when it was due, not when it was sent, so a stalled
server is charged for the queue it causes (no coordinated omission).

    result = measure(port=24100, make_request=lambda i: b"GET / ...", rate_rps=500,
                     seconds=3, connections=64)
    result.p50_ms, result.p99_ms, result.errors
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable
from dataclasses import dataclass

import uvloop
from hdrh.histogram import HdrHistogram


@dataclass
class FixedRateResult:
    sent: int
    errors: int  # non-2xx answers and broken connections
    achieved_rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


class _Connection(asyncio.Protocol):
    def __init__(self, on_answer: Callable[[_Connection, int], None]) -> None:
        self.on_answer = on_answer
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.due_ns = 0
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True

    def send(self, data: bytes, due_ns: int) -> None:
        assert self.transport is not None
        self.due_ns = due_ns
        self.transport.write(data)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0:
            return
        head = self.buffer[:head_end].lower()
        marker = head.find(b"content-length:")
        assert marker >= 0, "the bench expects Content-Length answers"
        line_end = head.find(b"\r\n", marker)
        length = int(head[marker + 15 : line_end if line_end >= 0 else len(head)])
        if len(self.buffer) < head_end + 4 + length:
            return
        status = int(self.buffer[9:12])
        self.buffer = self.buffer[head_end + 4 + length :]
        self.on_answer(self, status)


async def _run(
    port: int,
    make_request: Callable[[int], bytes],
    rate_rps: float,
    seconds: float,
    connections: int,
) -> FixedRateResult:
    loop = asyncio.get_running_loop()
    histogram = HdrHistogram(1, 60_000_000, 3)  # microseconds, up to 60 s
    idle: collections.deque[_Connection] = collections.deque()
    backlog: collections.deque[tuple[int, int]] = collections.deque()  # (index, due_ns)
    counts = {"sent": 0, "done": 0, "errors": 0}
    all_done = loop.create_future()
    total = int(rate_rps * seconds)

    def dispatch(conn: _Connection) -> None:
        if backlog:
            index, due_ns = backlog.popleft()
            conn.send(make_request(index), due_ns)
        else:
            idle.append(conn)

    def on_answer(conn: _Connection, status: int) -> None:
        histogram.record_value(max(1, (time.perf_counter_ns() - conn.due_ns) // 1000))
        counts["done"] += 1
        if not 200 <= status < 300:
            counts["errors"] += 1
        if counts["done"] >= total and not all_done.done():
            all_done.set_result(None)
        dispatch(conn)

    conns = []
    for _ in range(connections):
        _, conn = await loop.create_connection(lambda: _Connection(on_answer), "127.0.0.1", port)
        conns.append(conn)
        idle.append(conn)
    start_ns = time.perf_counter_ns()
    interval_ns = 1e9 / rate_rps
    for index in range(total):
        due_ns = start_ns + int(index * interval_ns)
        delay_s = (due_ns - time.perf_counter_ns()) / 1e9
        if delay_s > 0.0005:
            await asyncio.sleep(delay_s)
        counts["sent"] += 1
        if idle:
            idle.popleft().send(make_request(index), due_ns)
        else:
            backlog.append((index, due_ns))
    try:
        await asyncio.wait_for(all_done, timeout=30)
    except TimeoutError:
        counts["errors"] += total - counts["done"]
    elapsed_s = (time.perf_counter_ns() - start_ns) / 1e9
    for conn in conns:
        if conn.transport is not None:
            conn.transport.close()
    return FixedRateResult(
        sent=counts["sent"],
        errors=counts["errors"],
        achieved_rps=counts["done"] / elapsed_s,
        p50_ms=histogram.get_value_at_percentile(50) / 1000,
        p95_ms=histogram.get_value_at_percentile(95) / 1000,
        p99_ms=histogram.get_value_at_percentile(99) / 1000,
    )


def measure(
    *,
    port: int,
    make_request: Callable[[int], bytes],
    rate_rps: float,
    seconds: float,
    connections: int = 64,
) -> FixedRateResult:
    return uvloop.run(_run(port, make_request, rate_rps, seconds, connections))
