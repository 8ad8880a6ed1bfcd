"""reconciliation.json as the reconciliation writes it and as the report shows it: one
model (gameday.rundir.Reconciliation), so a count the writer measured reaches the page."""

from __future__ import annotations

import json
from pathlib import Path

from factories import fault, make_run_dir, steady_samples

from gameday.report import write_report
from gameday.rundir import Reconciliation, RunDir

SLO_TEXT = """
overall:
  latency: {p95: 500ms}
  error_rate_pct: 0.1
sustained_window: 10s
"""


def _chaos_run(tmp_path: Path) -> Path:
    return make_run_dir(
        tmp_path,
        samples=steady_samples(seconds=40, rps=20),
        events=fault("redis-down", 10.0, 20.0),
        slo_yaml=SLO_TEXT,
    )


def test_the_report_shows_the_writes_the_reconciliation_found_not_yet_indexed(
    tmp_path: Path,
) -> None:
    run_dir = _chaos_run(tmp_path)
    RunDir(run_dir).write_reconciliation(
        Reconciliation(acknowledged=12, documents=12, present=12, not_yet_indexed=3)
    )
    summary = write_report(run_dir, slo_path=run_dir / "slo.yaml")
    assert summary.reconciliation is not None and summary.reconciliation.not_yet_indexed == 3
    assert "3 not yet indexed" in (run_dir / "index.html").read_text()


def test_an_older_run_directory_keeps_its_count_of_writes_not_yet_indexed(tmp_path: Path) -> None:
    """Before the contract, the reconciliation wrote `not_yet_indexed_at_first_check`
    while the report read `not_yet_indexed`, so the page always said 0."""
    run_dir = _chaos_run(tmp_path)
    (run_dir / "reconciliation.json").write_text(
        json.dumps(
            {
                "checked_at": "2026-11-29T07:38:25.805Z",
                "acknowledged": 111,
                "documents": 108,
                "present": 99,
                "lost": 0,
                "lost_ids": [],
                "lost_in_postgres": 0,
                "lost_in_search": 0,
                "rpo_s": 0.0,
                "stale_versions": 0,
                "not_yet_indexed_at_first_check": 7,
                "max_indexing_lag_s": 1.5,
            }
        )
    )
    write_report(run_dir, slo_path=run_dir / "slo.yaml")
    assert "7 not yet indexed" in (run_dir / "index.html").read_text()
    assert (
        json.loads((run_dir / "summary.json").read_text())["reconciliation"]["not_yet_indexed"] == 7
    )
