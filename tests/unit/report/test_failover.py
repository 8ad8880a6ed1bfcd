"""Failover time (PostgreSQL primary lost, replica promoted): loss to the first
successful document read and write, on synthetic per-second series and on a
synthetic run directory through the report."""

from __future__ import annotations

from pathlib import Path

from factories import DOC, Sample, event, fault, make_run_dir, steady_samples

from gameday.report import build_summary, load_run
from gameday.report.analysis import measure_failover
from gameday.slo import parse_slo

WRITE = "POST /v1/documents"
SLO_TEXT = """
overall:
  latency: {p95: 500ms}
  error_rate_pct: 0.1
sustained_window: 5s
"""


def test_unbroken_reads_fail_over_in_zero_and_writes_at_the_end_of_their_first_good_second() -> (
    None
):
    reads = [(10, 0)] * 30
    # writes fail in seconds 10-14 (the loss is at 10.4), succeed again from 15
    writes = [(5, 0)] * 10 + [(1, 4)] + [(0, 5)] * 4 + [(5, 0)] * 15
    failover = measure_failover(reads, writes, lost_at_s=10.4, promoted_at_s=14.2)
    assert failover.first_read_s == 0.0 and failover.reads_failed == 0
    assert failover.first_write_s == 5.6  # the end of second 15, from 10.4
    assert failover.writes_failed == 4 + 4 * 5
    assert failover.promoted_after_s == 3.8


def test_writes_that_never_succeed_again_have_no_failover_time() -> None:
    writes = [(5, 0)] * 10 + [(0, 5)] * 10
    failover = measure_failover([(1, 0)] * 20, writes, lost_at_s=10.0)
    assert failover.first_write_s is None
    assert failover.writes_failed == 50
    assert failover.promoted_after_s is None


def test_failures_before_the_loss_do_not_count() -> None:
    reads = [(0, 3)] * 5 + [(4, 0)] * 10
    failover = measure_failover(reads, [(1, 0)] * 15, lost_at_s=6.0)
    assert failover.first_read_s == 0.0 and failover.reads_failed == 0


def _primary_loss_samples() -> list[Sample]:
    """Reads answer throughout; writes 503 from 20 s until 27 s (promotion at 25.5 s)."""
    return [
        Sample(s.t_s, s.endpoint, s.latency_ms, "fail_5xx", s.request_id)
        if s.endpoint == WRITE and 20.0 <= s.t_s < 27.0
        else s
        for s in steady_samples(seconds=60, rps=10, endpoints=(DOC, WRITE))
    ]


def test_the_summary_of_a_primary_loss_run_carries_the_failover_times(tmp_path: Path) -> None:
    events = [
        *fault("postgres-down", 20.0, 45.0, target="postgres"),
        event("replica_promoted", 25.5, name="postgres-replica-promoted"),
    ]
    run_dir = make_run_dir(tmp_path, samples=_primary_loss_samples(), events=events)
    summary = build_summary(load_run(run_dir), parse_slo(SLO_TEXT), slo_source="test")
    (experiment,) = summary.experiments
    assert experiment.failover is not None
    assert experiment.failover.first_read_s == 0.0
    assert experiment.failover.first_write_s == 8.0  # the end of second 27
    assert experiment.failover.writes_failed == 7 * 5
    assert experiment.failover.promoted_after_s == 5.5


def test_a_fault_without_a_promotion_has_no_failover(tmp_path: Path) -> None:
    events = fault("postgres-down", 20.0, 45.0, target="postgres")
    run_dir = make_run_dir(tmp_path, samples=_primary_loss_samples(), events=events)
    summary = build_summary(load_run(run_dir), parse_slo(SLO_TEXT), slo_source="test")
    assert summary.experiments[0].failover is None
