"""gameday compare: bootstrap intervals over per-second histograms judge a
30% p95 regression as one and a 2% change as noise."""

from __future__ import annotations

from pathlib import Path

import pytest
from factories import Sample, make_run_dir, steady_samples

from gameday.report import load_run
from gameday.report.compare import compare_runs
from gameday.slo import Regression


def _scaled(samples: list[Sample], factor: float) -> list[Sample]:
    return [
        Sample(s.t_s, s.endpoint, round(s.latency_ms * factor, 3), s.kind, s.request_id)
        for s in samples
    ]


@pytest.fixture(scope="module")
def base_samples() -> list[Sample]:
    return steady_samples(seconds=30, rps=40, seed=1)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory, base_samples: list[Sample]) -> Path:
    return make_run_dir(tmp_path_factory.mktemp("cmp"), samples=base_samples, name="base")


def _compare(tmp_path: Path, base: Path, samples: list[Sample]):  # type: ignore[no-untyped-def]
    candidate = make_run_dir(tmp_path, samples=samples, name="candidate")
    return compare_runs(load_run(base), load_run(candidate), Regression(), seed=3, resamples=100)


def test_a_30_percent_p95_regression_is_flagged(tmp_path: Path, base: Path) -> None:
    candidate = steady_samples(seconds=30, rps=40, seed=2)
    comparison = _compare(tmp_path, base, _scaled(candidate, 1.3))
    p95 = next(d for d in comparison.deltas if d.scope == "ALL" and d.metric == "p95_ms")
    assert p95.regression
    assert p95.delta_pct == pytest.approx(30.0, abs=12.0)
    assert p95.ci_low > 0
    assert comparison.verdict == "regression"


def test_a_2_percent_change_is_not_a_regression(
    tmp_path: Path, base: Path, base_samples: list[Sample]
) -> None:
    comparison = _compare(tmp_path, base, _scaled(base_samples, 1.02))
    p95 = next(d for d in comparison.deltas if d.scope == "ALL" and d.metric == "p95_ms")
    assert not p95.regression
    assert p95.delta_pct == pytest.approx(2.0, abs=0.5)
    assert comparison.verdict == "pass"


def test_the_bootstrap_is_reproducible_with_its_seed(tmp_path: Path, base: Path) -> None:
    run = load_run(base)
    first = compare_runs(run, run, Regression(), seed=5, resamples=30)
    again = compare_runs(run, run, Regression(), seed=5, resamples=30)
    assert first == again
    assert all(d.delta == 0 for d in first.deltas)


def test_an_error_rate_increase_beyond_tolerance_is_a_regression(
    tmp_path: Path, base: Path, base_samples: list[Sample]
) -> None:
    failing = [
        Sample(s.t_s, s.endpoint, s.latency_ms, "fail_5xx" if i % 50 == 0 else None, s.request_id)
        for i, s in enumerate(base_samples)
    ]
    comparison = _compare(tmp_path, base, failing)
    rate = next(d for d in comparison.deltas if d.scope == "ALL" and d.metric == "error_rate_pct")
    assert rate.candidate == pytest.approx(2.0) and rate.regression
