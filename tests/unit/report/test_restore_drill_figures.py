"""The restore drill's figures (gameday/report/restore_drill.py) on synthetic records:
RTO from the per-second writes, RPO as the age of the newest write acknowledged before
the first lost one, the lost writes listed, both judged against the design's limits."""

from __future__ import annotations

from gameday.report.restore_drill import RestoreDrill, measure_restore_drill
from gameday.rundir import LedgerEntry


def make_entry(id: str, t_s: float, op: str = "create", version: int = 1) -> LedgerEntry:
    return LedgerEntry(op=op, id=id, tenant="acme", version=version, acked_at=f"at-{t_s}", t_s=t_s)


# writes succeed until second 30 (the destruction at 30.2), fail for 31 s, succeed again
WRITES = [(5, 0)] * 30 + [(1, 4)] + [(0, 5)] * 30 + [(5, 0)] * 10


def _drill(ledger: list[LedgerEntry], lost: list[str], **limits: float) -> RestoreDrill:
    return measure_restore_drill(
        WRITES,
        ledger,
        lost,
        destroyed_at_s=30.2,
        restored_at_s=39.0,
        design_rto_s=limits.get("rto", 3600.0),
        design_rpo_s=limits.get("rpo", 900.0),
    )


def test_rto_runs_to_the_end_of_the_first_second_with_a_write_after_the_failures() -> None:
    drill = _drill([make_entry("a", 10.0)], [])
    assert drill.rto_s == 31.8  # the end of second 61, from 30.2
    assert drill.restored_after_s == 8.8
    assert drill.rto_meets_design is True
    assert _drill([make_entry("a", 10.0)], [], rto=30.0).rto_meets_design is False


def test_rpo_is_the_age_of_the_newest_write_before_the_first_lost_one() -> None:
    ledger = [
        make_entry("a", 18.0),
        make_entry("b", 21.5),  # the newest restored write
        make_entry("c", 22.0),  # lost
        make_entry("d", 24.0),  # created and deleted after the last archived segment:
        make_entry("d", 26.0, op="delete", version=2),  # absent either way, not restored
        make_entry("e", 29.0),  # lost
        make_entry("f", 45.0),  # after the restore: neither lost nor restored
    ]
    drill = _drill(ledger, ["c", "e"])
    assert drill.rpo_s == 8.7  # 30.2 - 21.5
    assert [(w.id, w.before_destruction_s) for w in drill.lost] == [("c", 8.2), ("e", 1.2)]
    assert drill.acknowledged_before == 6
    assert drill.rpo_meets_design is True
    assert _drill(ledger, ["c", "e"], rpo=5.0).rpo_meets_design is False


def test_a_document_lost_by_its_update_is_listed_by_that_update() -> None:
    ledger = [make_entry("a", 10.0), make_entry("a", 25.0, op="update", version=2)]
    drill = _drill(ledger, ["a"])
    assert [(w.id, w.op) for w in drill.lost] == [("a", "update")]
    assert drill.rpo_s == 20.2  # its create at 10.0 is the newest restored write


def test_nothing_lost_makes_the_newest_write_before_the_destruction_the_rpo() -> None:
    drill = _drill([make_entry("a", 10.0), make_entry("b", 30.0)], [])
    assert drill.rpo_s == 0.2 and drill.lost == []


def test_a_document_whose_last_write_came_after_the_restore_is_a_finding_apart() -> None:
    """Updated to version 2 after the last archived segment (lost), then deleted after the
    restore at version 2 again: the search index, holding the lost version 2, drops it."""
    ledger = [
        make_entry("a", 10.0),
        make_entry("a", 25.0, op="update", version=2),
        make_entry("a", 50.0, op="delete", version=2),
    ]
    drill = _drill(ledger, ["a"])
    assert drill.lost == []
    assert [(w.id, w.op, w.before_destruction_s) for w in drill.lost_after_restore] == [
        ("a", "delete", -19.8)
    ]
