"""The report carries run.json's generator facts (the busiest sender's CPU, the master's,
the wait for the workers) into summary.json and onto the page."""

from __future__ import annotations

import json
from pathlib import Path

from factories import make_run_dir, steady_samples

from gameday.report import write_report

ROOT = Path(__file__).resolve().parents[3]


def test_the_generator_facts_reach_the_summary_and_the_page(tmp_path: Path) -> None:
    generator = {"max_worker_cpu_pct": 63.0, "master_cpu_pct": 2.4, "ready_wait_s": 1.57}
    run_dir = make_run_dir(
        tmp_path, samples=steady_samples(seconds=5, rps=20), target_rps=20.0, generator=generator
    )
    write_report(run_dir, slo_path=ROOT / "slo.yaml")
    run = json.loads((run_dir / "summary.json").read_text())["run"]
    assert {k: run[k] for k in generator} == generator
    page = (run_dir / "index.html").read_text()
    assert "busiest sender 63% of a core; master 2.4%; workers ready after 1.6 s" in page


def test_a_run_json_without_them_shows_none(tmp_path: Path) -> None:
    run_dir = make_run_dir(tmp_path, samples=steady_samples(seconds=5, rps=20), target_rps=20.0,
                           generator={"max_worker_cpu_pct": None})  # fmt: skip
    write_report(run_dir, slo_path=ROOT / "slo.yaml")
    run = json.loads((run_dir / "summary.json").read_text())["run"]
    assert run["max_worker_cpu_pct"] is None and run["master_cpu_pct"] is None
    assert "busiest sender" not in (run_dir / "index.html").read_text()
