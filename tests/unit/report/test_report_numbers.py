"""Report numbers are exact: a run directory built from known raw samples,
every percentile, rate and verdict in summary.json and index.html checked
against values computed from the raw samples alone."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from factories import DOC, SEARCH, Sample, make_run_dir, nearest_rank_ms, steady_samples

from gameday.report import hdr, render_summary_schema, write_report
from gameday.report.rundata import read_hlog

ROOT = Path(__file__).resolve().parents[3]
PERCENTILES = {"p50_ms": 50.0, "p90_ms": 90.0, "p95_ms": 95.0, "p99_ms": 99.0, "p99_9_ms": 99.9}
SLO = ROOT / "slo.yaml"


def _within_hdr_precision(reported_ms: float, exact_ms: float) -> bool:
    # 3 significant digits: the bucket holding a value is at most 0.1% wide,
    # and the report gives its upper edge; values are recorded in whole µs.
    return exact_ms - 0.001 <= reported_ms <= exact_ms * 1.001 + 0.001


@pytest.fixture(scope="module")
def samples() -> list[Sample]:
    out = steady_samples(seconds=40, rps=50, error_every=0)
    # a few known failures: 5xx on search, 4xx on documents, one timeout
    marked = []
    for i, s in enumerate(out):
        kind = None
        if i % 250 == 0:
            kind = "fail_5xx" if s.endpoint == SEARCH else "fail_4xx"
        if i == 1001:
            kind = "fail_timeout"
        marked.append(Sample(s.t_s, s.endpoint, s.latency_ms, kind, s.request_id))
    return marked


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory, samples: list[Sample]) -> Path:
    run_dir = make_run_dir(tmp_path_factory.mktemp("exact"), samples=samples, target_rps=50.0)
    write_report(run_dir, slo_path=SLO)
    return run_dir


def _summary(report_dir: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((report_dir / "summary.json").read_text())


@pytest.mark.parametrize("scope", ["overall", SEARCH, DOC])
def test_every_percentile_in_summary_json_matches_the_raw_samples(
    report_dir: Path, samples: list[Sample], scope: str
) -> None:
    summary = _summary(report_dir)
    figures = summary["overall"] if scope == "overall" else summary["endpoints"][scope]
    raw = [s.latency_ms for s in samples if scope == "overall" or s.endpoint == scope]
    for field, percentile in PERCENTILES.items():
        exact = nearest_rank_ms(raw, percentile)
        assert _within_hdr_precision(figures[field], exact), (field, figures[field], exact)
    assert _within_hdr_precision(figures["max_ms"], max(raw))
    assert figures["count"] == len(raw)


def test_counts_rates_and_error_rate_match_the_raw_samples(
    report_dir: Path, samples: list[Sample]
) -> None:
    overall = _summary(report_dir)["overall"]
    server = [s for s in samples if s.kind in ("fail_5xx", "fail_connection", "fail_timeout")]
    assert overall["count"] == len(samples) == 2000
    assert overall["errors"] == len(server)
    assert overall["failures"] == sum(1 for s in samples if s.kind)
    assert overall["by_kind"]["fail_4xx"] == sum(1 for s in samples if s.kind == "fail_4xx")
    assert overall["rps"] == pytest.approx(len(samples) / 40.0)
    assert overall["error_rate_pct"] == pytest.approx(100.0 * len(server) / len(samples))
    assert overall["achieved_ratio"] == pytest.approx(1.0)


def test_the_verdict_and_availability_follow_from_the_raw_samples(
    report_dir: Path, samples: list[Sample]
) -> None:
    summary = _summary(report_dir)
    server = sum(1 for s in samples if s.kind in ("fail_5xx", "fail_timeout"))
    availability = 100.0 * (1 - server / len(samples))
    assert summary["error_budget"]["availability_pct"] == pytest.approx(availability)
    # 0.3% server errors break both the 0.1% error rate and 99.95% availability
    assert summary["verdict"] == "fail"
    failed = {o["name"] for o in summary["objectives"] if not o["passed"]}
    assert failed == {"overall error rate [run]", "availability [run]"}
    error_rate = next(o for o in summary["objectives"] if o["name"] == "overall error rate [run]")
    assert error_rate["measured"] == pytest.approx(100.0 * server / len(samples))
    assert error_rate["target"] == 0.1


def test_the_html_shows_the_same_figures_as_summary_json(report_dir: Path) -> None:
    summary = _summary(report_dir)
    html = (report_dir / "index.html").read_text()
    assert '<div class="verdict">FAIL</div>' in html
    for figures in [summary["overall"], *summary["endpoints"].values()]:
        for field in [*PERCENTILES, "max_ms"]:
            assert f"{figures[field]:,.3f}" in html, field
        assert f"{figures['count']:,}" in html
    assert "overall error rate [run]" in html


def test_junit_has_one_case_per_objective_and_failures_carry_the_measured_value(
    report_dir: Path,
) -> None:
    summary = _summary(report_dir)
    junit = (report_dir / "junit.xml").read_text()
    assert junit.count("<testcase ") == len(summary["objectives"]) + 1
    assert junit.count("<failure ") == 2
    measured = next(o for o in summary["objectives"] if o["name"] == "availability [run]")
    assert f"measured {measured['measured']:g} %" in junit


def test_summary_json_validates_against_the_published_schema(report_dir: Path) -> None:
    schema = json.loads((ROOT / "docs" / "summary.schema.json").read_text())
    jsonschema.validate(_summary(report_dir), schema)


def test_the_committed_summary_schema_equals_the_generated_one() -> None:
    assert (ROOT / "docs" / "summary.schema.json").read_text() == render_summary_schema()


def test_numpy_percentiles_equal_hdrhistograms_own(report_dir: Path) -> None:
    from hdrh.histogram import HdrHistogram

    series = read_hlog(report_dir / "histograms" / "ALL.hlog")
    merged = HdrHistogram(1, 60_000_000, 3)
    for line in (report_dir / "histograms" / "ALL.hlog").read_text().splitlines():
        if line and line[0].isdigit():
            merged.add(HdrHistogram.decode(line.split(",", 3)[3].encode()))
    counts = series.merged()
    for p in (0.0, 1.0, 50.0, 90.0, 99.0, 99.9, 100.0):
        assert hdr.value_at_percentile(counts, p) == merged.get_value_at_percentile(p)
    assert hdr.max_ms(counts) * 1000 == merged.get_max_value()
