"""The audit trail: the append-only ``audit_log`` table (who, tenant, what, when,
request id, outcome), never a request body.

Writes, erasures and admin changes are audited **in their own transaction**, so the row
is exactly as durable as the change it describes::

    async with runtime.pg_transaction() as conn:
        ...                                    # the change
        await audit.write(conn, action="delete", tenant=p.tenant, actor=p.subject)

Rejections (auth failures, 403s, rate limits) are audited **best effort**: ``record``
returns at once, the insert runs in the background, a failure is logged and dropped,
and at most ``MAX_PENDING`` inserts wait at a time, so a flood of bad requests cannot
pile up database work or slow the answer down::

    audit.record(runtime, action="rate_limited", outcome="rejected", tenant=tenant,
                 actor=principal.subject, detail={"limit": "tenant", "retry_after_s": 2},
                 at_most_every_s=1.0)

``at_most_every_s`` keeps a flood to one row per (action, tenant, actor) per interval in
each worker; the next row written says how many were left out (``detail.suppressed``).

Personal data stays out: subject ids are stored as SHA-256 (``subject_digest``), and
paths have their subject segment masked (``safe_path``). The table refuses UPDATE,
DELETE and TRUNCATE (migration 0005), so erasing a subject never has to touch it.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from typing import TYPE_CHECKING, Any
from uuid import UUID

from service.logs import current_request_id, mask

if TYPE_CHECKING:
    import asyncpg

    from service.runtime import Runtime

    Conn = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy | asyncpg.Pool

log = logging.getLogger("service.audit")
MAX_PENDING = 100
MAX_THROTTLED_KEYS = 10_000
_SUBJECT_SEGMENT = re.compile(r"(/subjects/)[^/]+")
_last_written: dict[tuple[str, str | None, str | None], float] = {}
_suppressed: dict[tuple[str, str | None, str | None], int] = {}
_INSERT = (
    "INSERT INTO audit_log (tenant_id, actor, action, document_id, detail, request_id, outcome) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7)"
)


def subject_digest(subject: str) -> str:
    """What the audit keeps of a subject id: its SHA-256, never the id itself."""
    return hashlib.sha256(subject.encode("utf-8", "surrogatepass")).hexdigest()


def safe_path(path: str) -> str:
    """A request path fit for the audit trail: subject ids and emails masked, bounded."""
    return mask(_SUBJECT_SEGMENT.sub(r"\1***", path))[:200]


async def write(
    conn: Conn,
    *,
    action: str,
    tenant: str | None,
    actor: str | None,
    outcome: str = "ok",
    document_id: UUID | None = None,
    detail: dict[str, Any] | None = None,
    request_id: str | None = None,
) -> None:
    """One audit row in the caller's transaction (it commits or rolls back with it)."""
    await conn.execute(
        _INSERT,
        tenant,
        actor,
        action,
        document_id,
        detail or {},
        request_id or current_request_id(),
        outcome,
    )


def record(
    runtime: Runtime | None,
    *,
    action: str,
    outcome: str,
    tenant: str | None = None,
    actor: str | None = None,
    detail: dict[str, Any] | None = None,
    request_id: str | None = None,
    at_most_every_s: float = 0.0,
) -> bool:
    """Best effort, in the background: returns at once, never raises. False when the
    row was dropped (no runtime yet, ``MAX_PENDING`` inserts already waiting, or another
    row of the same kind went out less than ``at_most_every_s`` ago)."""
    if runtime is None or len(runtime.background) >= MAX_PENDING:
        return False
    if at_most_every_s > 0:
        key = (action, tenant, actor)
        now = time.monotonic()
        if now - _last_written.get(key, float("-inf")) < at_most_every_s:
            _suppressed[key] = _suppressed.get(key, 0) + 1
            return False
        if len(_last_written) >= MAX_THROTTLED_KEYS:
            _last_written.clear()  # crude but bounded: a key forgotten writes one row early
            _suppressed.clear()
        _last_written[key] = now
        left_out = _suppressed.pop(key, 0)
        if left_out:
            detail = {**(detail or {}), "suppressed": left_out}
    try:
        runtime.spawn(
            _insert(
                runtime,
                action=action,
                outcome=outcome,
                tenant=tenant,
                actor=actor,
                detail=detail or {},
                request_id=request_id or current_request_id(),
            )
        )
    except RuntimeError:  # no running event loop
        return False
    return True


async def _insert(
    runtime: Runtime,
    *,
    action: str,
    outcome: str,
    tenant: str | None,
    actor: str | None,
    detail: dict[str, Any],
    request_id: str | None,
) -> None:
    try:
        async with runtime.audit_slot:
            await runtime.pool.execute(
                _INSERT, tenant, actor, action, None, detail, request_id, outcome
            )
    except Exception as exc:  # the audit trail must never turn a 401 or a 429 into a 500
        log.warning("could not audit %s (%s): %r", action, outcome, exc)


async def page(
    conn: Conn, tenant: str, *, limit: int, before_id: int | None
) -> list[dict[str, Any]]:
    """The tenant's rows, newest first, ``limit`` of them below the cursor ``before_id``."""
    rows = await conn.fetch(
        "SELECT id, at, tenant_id, actor, action, document_id, outcome, request_id, detail "
        "FROM audit_log WHERE tenant_id = $1 AND ($2::bigint IS NULL OR id < $2) "
        "ORDER BY id DESC LIMIT $3",
        tenant,
        before_id,
        limit,
    )
    return [dict(r) for r in rows]
