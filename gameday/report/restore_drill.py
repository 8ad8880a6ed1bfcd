"""The restore drill's figures (experiments/postgres-restore-drill.json): PostgreSQL's data
dir destroyed, the latest base backup restored and the archived WAL replayed. Pure
functions of the run directory's records.

    drill = measure_restore_drill(writes, ledger, lost_ids, destroyed=window,
                                  restored_at_s=140.2, limits=slo.limits, ...)
    drill.rto_s   # destruction to the first successful write (whole seconds)
    drill.rpo_s   # destruction minus the acknowledgement of the newest restored write

RTO counts from the destruction to the end of the first second with a successful
document write after the first failed one (as the failover's first write does). RPO is
the age, at the destruction, of the newest restored write: the newest acknowledged
before the first lost one (`lost`: the documents the reconciliation found lost whose
last write was acknowledged before the destruction, with its acknowledgement time; one
whose last write came after the restore is in `lost_after_restore`, a finding apart).
Both are judged against the design's outer limits (the SLO file's `limits`, 1 h and
15 min) here, and against the experiment's own objectives by the SLO judge.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from gameday.report.analysis import SecondCounts, measure_failover
from gameday.rundir import LedgerEntry


class LostWrite(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    op: str
    acked_at: str
    before_destruction_s: float  # how long before the destruction it was acknowledged


class RestoreDrill(BaseModel):
    model_config = ConfigDict(frozen=True)

    destroyed_at_s: float
    backup: str | None = Field(description="the base backup restored (its label)")
    backup_taken_s: float | None = Field(description="on the load's clock")
    last_archived_wal: str | None = Field(
        description="pg_stat_archiver's last archived segment just before the destruction"
    )
    restored_after_s: float | None = Field(
        description="destruction to the restored server accepting a write (the data_restored event)"
    )
    rto_s: float | None = Field(description="destruction to the first successful document write")
    rpo_s: float | None = Field(
        description="age at the destruction of the newest restored acknowledged write"
    )
    acknowledged_before: int = Field(description="writes acknowledged before the destruction")
    lost: list[LostWrite] = Field(description="of those, the ones the restore does not hold")
    lost_after_restore: list[LostWrite] = Field(
        default_factory=list,
        description="documents found lost whose last write was acknowledged after the "
        "destruction (once restored): not data the restore lost, a finding of its own "
        "(`before_destruction_s` negative: that long after it)",
    )
    design_rto_s: float
    design_rpo_s: float
    rto_meets_design: bool | None
    rpo_meets_design: bool | None


def measure_restore_drill(
    writes: Sequence[SecondCounts],
    ledger: Sequence[LedgerEntry],
    lost_ids: Sequence[str],
    *,
    destroyed_at_s: float,
    restored_at_s: float | None,
    design_rto_s: float,
    design_rpo_s: float,
    backup: str | None = None,
    backup_taken_s: float | None = None,
    last_archived_wal: str | None = None,
) -> RestoreDrill:
    """`writes[s]`: document writes (succeeded, failed) in second s; `ledger`: every
    acknowledged write; `lost_ids`: the reconciliation's lost documents."""
    rto_s = measure_failover(writes, writes, lost_at_s=destroyed_at_s).first_write_s
    before = [e for e in ledger if e.t_s < destroyed_at_s]
    last_op = {e.id: e for e in ledger}  # the reconciliation judges a document's last write
    lost_set = set(lost_ids)
    judged = sorted((e for e in last_op.values() if e.id in lost_set), key=lambda e: (e.t_s, e.id))
    # A document whose last write came after the restore was lost after it (in the search
    # index: a version the lost WAL had already indexed), not by it.
    lost = [e for e in judged if e.t_s < destroyed_at_s]
    lost_after = [e for e in judged if e.t_s >= destroyed_at_s]
    # The newest restored write: the newest acknowledged before the first lost one. A later
    # write whose document the restore happens to hold as expected (created and deleted
    # after the last archived segment: absent either way) was not restored, only undone.
    first_lost_s = min((e.t_s for e in lost), default=None)
    kept = [e.t_s for e in before if first_lost_s is None or e.t_s < first_lost_s]
    rpo_s = round(destroyed_at_s - max(kept), 3) if kept else None
    return RestoreDrill(
        destroyed_at_s=destroyed_at_s,
        backup=backup,
        backup_taken_s=backup_taken_s,
        last_archived_wal=last_archived_wal,
        restored_after_s=(
            None if restored_at_s is None else round(restored_at_s - destroyed_at_s, 3)
        ),
        rto_s=rto_s,
        rpo_s=rpo_s,
        acknowledged_before=len(before),
        lost=[_lost_write(e, destroyed_at_s) for e in lost],
        lost_after_restore=[_lost_write(e, destroyed_at_s) for e in lost_after],
        design_rto_s=design_rto_s,
        design_rpo_s=design_rpo_s,
        rto_meets_design=None if rto_s is None else rto_s <= design_rto_s,
        rpo_meets_design=None if rpo_s is None else rpo_s <= design_rpo_s,
    )


def _lost_write(entry: LedgerEntry, destroyed_at_s: float) -> LostWrite:
    return LostWrite(
        id=entry.id,
        op=entry.op,
        acked_at=entry.acked_at,
        before_destruction_s=round(destroyed_at_s - entry.t_s, 3),
    )
