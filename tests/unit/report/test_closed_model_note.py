"""A closed-model run's report says plainly that nothing corrects for coordinated
omission; an open-model run's does not (its latency counts from the intended start)."""

from __future__ import annotations

from pathlib import Path

import pytest
from factories import make_run_dir, steady_samples

from gameday.report import write_report

ROOT = Path(__file__).resolve().parents[3]
NOTE = "nothing corrects for that (coordinated omission)"


@pytest.mark.parametrize(("target_rps", "shown"), [(None, True), (20.0, False)])
def test_the_closed_model_note(tmp_path: Path, target_rps: float | None, shown: bool) -> None:
    samples = steady_samples(seconds=5, rps=20, error_every=0)
    run_dir = make_run_dir(tmp_path, samples=samples, target_rps=target_rps)
    write_report(run_dir, slo_path=ROOT / "slo.yaml")
    assert (NOTE in (run_dir / "index.html").read_text()) is shown
