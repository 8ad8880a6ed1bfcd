"""The outbox relay: publishes committed events with publisher confirms, then deletes
them. A broker outage delays indexing but loses nothing: rows stay until confirmed.
Each worker runs one relay; ``FOR UPDATE SKIP LOCKED`` keeps them from sending a row twice
(a crash between confirm and delete can still resend: the indexer is idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from opentelemetry.instrumentation.utils import suppress_instrumentation

from service import metrics
from service.deps.guards import rabbitmq_failure, rabbitmq_moved_on
from service.deps.postgres_router import is_node_loss
from service.runtime import Runtime

log = logging.getLogger("service.outbox")


async def relay_once(runtime: Runtime) -> int:
    """Publishes one batch; returns how many events were sent."""
    batch = runtime.settings.outbox.batch_size
    async with runtime.pool.acquire() as conn, conn.transaction():
        rows = await conn.fetch(
            "SELECT id, payload, traceparent FROM outbox ORDER BY id LIMIT $1 "
            "FOR UPDATE SKIP LOCKED",
            batch,
        )
        if not rows:
            return 0
        guard = runtime.guards.get("rabbitmq")
        payloads = [r["payload"] for r in rows]
        # Each message is published in the trace of the request that wrote it.
        parents = [r["traceparent"] for r in rows]
        if guard is None:
            await runtime.publisher.publish_many(payloads, traceparents=parents)
        else:  # breaker open: the relay backs off without touching the broker
            async with guard.track(is_failure=rabbitmq_failure, is_ignored=rabbitmq_moved_on):
                await runtime.publisher.publish_many(payloads, traceparents=parents)
        await conn.execute(
            "DELETE FROM outbox WHERE id = ANY($1::bigint[])", [r["id"] for r in rows]
        )
    return len(rows)


async def _observe_backlog(runtime: Runtime) -> None:
    try:
        backlog = await runtime.pool.fetchval("SELECT count(*) FROM outbox", timeout=1.0)
        metrics.outbox_backlog.set(int(backlog or 0))
    except Exception as exc:  # PostgreSQL away: the gauge keeps its last value
        log.debug("could not count the outbox backlog: %r", exc)


async def run_relay(runtime: Runtime, *, stop: asyncio.Event | None = None) -> None:
    """Runs until cancelled, or until ``stop`` is set: then it makes one last full pass
    (the requests in flight have committed by then) and returns. Drains on wake-up,
    polls otherwise, backs off on failure."""
    # Polling is not traced (a root trace every poll); each message's publish span is, in
    # the trace of the request that wrote it (Publisher.publish_many).
    with suppress_instrumentation():
        await _relay_until_stopped(runtime, stop or asyncio.Event())


async def _relay_until_stopped(runtime: Runtime, stop: asyncio.Event) -> None:
    settings = runtime.settings.outbox
    failures = 0
    while True:
        last_pass = stop.is_set()
        runtime.outbox_wakeup.clear()  # before draining, so a write during it is not missed
        try:
            while await relay_once(runtime) >= settings.batch_size:
                pass
            failures = 0
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if stop.is_set():  # the rows stay for the next start: nothing is lost
                log.warning("outbox relay stopping with rows left unpublished: %r", exc)
                return
            failures += 1
            if is_node_loss(exc):  # the primary may have moved: writes follow it
                runtime.pg.suspect_primary()
            delay_s = min(5.0, 0.1 * 2**failures)
            await _observe_backlog(runtime)
            log.warning(
                "outbox relay failed (%d in a row), retrying in %.1fs: %r", failures, delay_s, exc
            )
            await asyncio.sleep(delay_s)
            continue
        await _observe_backlog(runtime)
        if last_pass:
            log.info("outbox relay stopped after its last pass")
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(runtime.outbox_wakeup.wait(), timeout=settings.poll_interval_s)


async def stop_relay(
    relay: asyncio.Task[None], stop: asyncio.Event, runtime: Runtime, *, timeout_s: float
) -> None:
    """At shutdown: the relay publishes what is left, within ``timeout_s``; past it, it is
    cancelled and what it did not send waits in the table for the next start."""
    stop.set()
    runtime.outbox_wakeup.set()
    try:
        await asyncio.wait_for(relay, timeout=timeout_s)
    except TimeoutError:
        log.warning("outbox relay cancelled at the shutdown deadline (%.1fs)", timeout_s)
    except Exception as exc:
        log.warning("outbox relay failed at shutdown: %r", exc)
