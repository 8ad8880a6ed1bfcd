"""RPO: reconcile the write ledger (every acknowledged write) with the stores.

For each document the ledger's last acknowledged operation says what must be
true now: present at that version or newer (create, update), or absent
(delete). PostgreSQL is the system of record; OpenSearch must follow within a
grace period. A write is lost when PostgreSQL lacks it (or holds an older
version), or when OpenSearch still lacks it after the grace period. The RPO is
the span of acknowledgement times of the lost writes (0 when none).
Indexing lag (found in OpenSearch only after waiting) is reported apart.
After a failover (`stack promote-replica`) the promoted replica is the system of
record: writes acknowledged by the old primary and not streamed before the loss
are lost, as they would be in production.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from gameday.rundir import LedgerEntry, Reconciliation, RunDir, UnconfirmedWrite, iso
from gameday.settings import StackSettings
from gameday.target import HookContext


@dataclass
class Expectation:
    id: str
    tenant: str
    version: int
    present: bool
    t_s: float
    acked_at: str


def expectations(ledger: list[LedgerEntry]) -> dict[str, Expectation]:
    """The last acknowledged operation per document id."""
    final: dict[str, Expectation] = {}
    for entry in ledger:
        final[entry.id] = Expectation(
            id=entry.id,
            tenant=entry.tenant,
            version=entry.version,
            present=entry.op != "delete",
            t_s=entry.t_s,
            acked_at=entry.acked_at,
        )
    return final


def judged_expectations(
    ledger: list[LedgerEntry], unconfirmed: list[UnconfirmedWrite]
) -> tuple[dict[str, Expectation], set[str]]:
    """The documents the ledger can judge, and the ids it cannot: a document with an update
    or delete unanswered when the load stopped may have been changed by it after the
    ledger's last acknowledgement (a delete applied just before the stop would otherwise
    read as a lost write)."""
    final = expectations(ledger)
    unjudged = {write.id for write in unconfirmed} & set(final)
    return {i: e for i, e in final.items() if i not in unjudged}, unjudged


def primary_dsn(settings: StackSettings) -> str:
    """The stack's PostgreSQL, or its replica once that has been promoted."""
    from gameday.stack import recorded_settings

    replica = recorded_settings(settings).postgres_replica_dsn
    if replica is None:
        return settings.postgres_dsn

    async def in_recovery() -> bool:
        conn = await asyncpg.connect(replica, timeout=5)
        try:
            return bool(await conn.fetchval("select pg_is_in_recovery()"))
        finally:
            await conn.close()

    try:
        standby = asyncio.run(in_recovery())
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return settings.postgres_dsn  # the replica is away: the primary is the record
    return settings.postgres_dsn if standby else replica


async def _postgres_versions(dsn: str, wanted: dict[str, Expectation]) -> dict[str, int]:
    by_tenant: dict[str, list[str]] = {}
    for e in wanted.values():
        by_tenant.setdefault(e.tenant, []).append(e.id)
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        found: dict[str, int] = {}
        for tenant, ids in by_tenant.items():
            rows = await conn.fetch(
                "select id::text, version from documents"
                " where tenant_id = $1 and id = any($2::uuid[])",
                tenant,
                ids,
            )
            found.update({r["id"]: int(r["version"]) for r in rows})
        return found
    finally:
        await conn.close()


def _search_versions(urls: list[str], alias: str, wanted: dict[str, Expectation]) -> dict[str, int]:
    found: dict[str, int] = {}
    by_tenant: dict[str, list[str]] = {}
    for e in wanted.values():
        by_tenant.setdefault(e.tenant, []).append(e.id)
    with httpx.Client(base_url=urls[0], timeout=30) as client:
        client.post(f"/{alias}/_refresh")
        for tenant, ids in by_tenant.items():
            for start in range(0, len(ids), 1000):
                chunk = ids[start : start + 1000]
                response = client.post(
                    f"/{alias}/_search",
                    params={"routing": tenant},
                    json={
                        "query": {"ids": {"values": chunk}},
                        "size": len(chunk),
                        "version": True,
                        "_source": False,
                    },
                )
                response.raise_for_status()
                for hit in response.json()["hits"]["hits"]:
                    found[hit["_id"]] = int(hit["_version"])
    return found


def reconcile(
    run_dir: Path, settings: StackSettings, *, grace_s: float = 30.0, alias: str = "documents"
) -> Reconciliation:
    """Reconciles the run's ledger with the stores and writes reconciliation.json."""
    directory = RunDir(run_dir)
    ledger = directory.load_ledger()
    acknowledged = len(ledger)
    final, unjudged = judged_expectations(ledger, directory.load_unconfirmed())
    pg = asyncio.run(_postgres_versions(primary_dsn(settings), final)) if final else {}
    lost_pg = {
        i
        for i, e in final.items()
        if (e.present and pg.get(i, 0) < e.version) or (not e.present and i in pg)
    }
    stale = sum(1 for i, e in final.items() if e.present and 0 < pg.get(i, 0) < e.version)
    # OpenSearch must catch up with what PostgreSQL holds, within the grace period.
    pending = {i: e for i, e in final.items() if i not in lost_pg}
    started = time.monotonic()
    first_missing: int | None = None
    lag_s = 0.0
    while True:
        indexed = _search_versions(settings.opensearch_urls, alias, pending) if pending else {}
        missing = {
            i
            for i, e in pending.items()
            if (e.present and indexed.get(i, 0) < e.version) or (not e.present and i in indexed)
        }
        if first_missing is None:
            first_missing = len(missing)
        if not missing or time.monotonic() - started >= grace_s:
            break
        lag_s = time.monotonic() - started
        time.sleep(1.0)
    lost = sorted(lost_pg | missing, key=lambda i: final[i].t_s)
    times = [final[i].t_s for i in lost]
    result = Reconciliation(
        checked_at=iso(time.time()),
        acknowledged=acknowledged,
        documents=len(final),
        present=sum(1 for i, e in final.items() if e.present and i not in lost),
        lost=len(lost),
        lost_ids=lost,
        lost_in_postgres=len(lost_pg),
        lost_in_search=len(missing),
        rpo_s=round(max(times) - min(times), 3) if times else 0.0,
        stale_versions=stale,
        unconfirmed_at_end=len(unjudged),
        not_yet_indexed=first_missing or 0,
        max_indexing_lag_s=round(lag_s, 3),
    )
    directory.write_reconciliation(result)
    return result


def reconcile_reference(entries: list[LedgerEntry], context: HookContext) -> Reconciliation:
    """The reference profile's `ledger.entry_point`: the whole reconciliation above, with
    the stack's stores (targets/reference.yaml). `entries` are read again from the run
    directory, which also holds the unconfirmed writes."""
    if context.run_dir is None:
        raise ValueError("the reference reconciliation needs the run directory")
    grace_s = float(context.params.get("grace_s", 30.0))
    return reconcile(context.run_dir, StackSettings(), grace_s=grace_s)
