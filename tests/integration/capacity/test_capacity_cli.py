"""`gameday capacity` against a target with a known knee (tests/integration/load/
cheap_target.py: past 25 requests in a second, answers are 100 ms late), tiny steps and
a 25 ms p95: 10 and 20 rps pass and 40 rps fails on any machine, however fast the
reference service has become (it used to be the target, and a faster one never broke)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gameday.load.capacity import CapacityReport, find_capacity
from tests.integration.load.cheap_target import serving
from tests.integration.own_service import ROOT

STRICT_SLO = """\
version: 1
overall:
  latency:
    p95: 25ms
  error_rate_pct: 0.1
"""


@dataclass(frozen=True)
class Replayed:
    passed: bool
    generator_valid: bool


@pytest.fixture(scope="module")
def knee_at_25_rps() -> Iterator[str]:
    with serving("--knee-rps", "25", "--slow-ms", "100") as url:
        yield url


def test_capacity_steps_up_judges_each_step_and_reports_the_highest_passing_rate(
    knee_at_25_rps: str, tmp_path: Path
) -> None:
    slo = tmp_path / "slo.yaml"
    slo.write_text(STRICT_SLO)
    out = tmp_path / "capacity"
    result = subprocess.run(
        [
            sys.executable, "-m", "gameday.cli", "capacity",
            "--scenario", "read_only", "--slo", str(slo), "--target", knee_at_25_rps,
            "--start-rate", "10", "--max-rate", "80", "--step-duration", "5s",
            "--resolution-pct", "25", "--max-steps", "5", "--repeats", "1", "--out", str(out),
        ],
        capture_output=True, text=True, timeout=240, cwd=ROOT, check=False,
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stdout + result.stderr
    report = CapacityReport.model_validate_json((out / "capacity.json").read_text())
    assert 1 <= len(report.steps) <= 5
    assert report.steps[0].rate_rps == 10
    rates = {s.rate_rps: s.passed for s in report.steps}
    assert rates[10] and rates[20] and not rates[40], report.steps  # the knee, found
    for step in report.steps:
        summary = json.loads((out / step.run_dir / "summary.json").read_text())
        assert summary["verdict"] == step.verdict
        assert (out / step.run_dir / "junit.xml").exists()
        assert step.count > 0 and step.generator_valid
        assert step.passed == (summary["overall"]["p95_ms"] <= 25 and step.verdict == "pass")
    # The same outcomes through the pure search give the same steps and answer.
    outcomes = {s.rate_rps: Replayed(s.passed, s.generator_valid) for s in report.steps}
    replay = find_capacity(
        outcomes.__getitem__, start_rps=10, max_rps=80, resolution_pct=25, max_steps=5
    )
    assert [rate for rate, _, _ in replay.steps] == [s.rate_rps for s in report.steps]
    assert report.capacity_rps == replay.capacity_rps
    assert report.stopped_because == replay.stopped_because
    assert result.returncode == (0 if report.capacity_rps is not None else 1)
    html = (out / "capacity.html").read_text()
    assert "<svg" in html and "<script" not in html.lower()
    if report.capacity_rps is not None:
        assert f"capacity {report.capacity_rps:g} rps" in html and "knee:" in html
