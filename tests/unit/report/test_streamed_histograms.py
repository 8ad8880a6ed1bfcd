"""The report folds each histogram file in one streaming pass (hlog.HistogramFile)
instead of holding every second in memory: what it judges stays exactly what the
in-memory load and hdrh's own merges give, and its charts thin long runs to a
bounded number of points."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from factories import SEARCH, Sample, fault, make_run_dir, steady_samples
from hdrh.histogram import HdrHistogram

from gameday.report import build_summary, charts, hdr, load_run, write_report
from gameday.report.hlog import HistogramFile
from gameday.slo import parse_slo

SLO_TEXT = """
overall:
  latency: {p95: 60ms}
  error_rate_pct: 0.1
sustained_window: 5s
experiments:
  opensearch-down:
    rto: 30s
"""


@pytest.fixture(scope="module")
def outage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """90 s at 20 req/s; search fails and slows down from 30 s to 45 s."""
    samples = [
        Sample(s.t_s, s.endpoint, s.latency_ms * 3, "fail_5xx", s.request_id)
        if 30 <= s.t_s < 45 and s.endpoint == SEARCH
        else s
        for s in steady_samples(seconds=90, rps=20)
    ]
    return make_run_dir(
        tmp_path_factory.mktemp("streamed"),
        samples=samples,
        events=fault("opensearch-down", 30.5, 45.0),
        target_rps=20.0,
        slo_yaml=SLO_TEXT,
    )


def _hdrh_merge(hlog: Path, lo: int | None, hi: int | None) -> HdrHistogram:
    """hdrh's own merge of the seconds in [lo, hi), decoded by hdrh itself."""
    start = None
    merged = HdrHistogram(1, 60_000_000, 3)
    for line in hlog.read_text().splitlines():
        if line.startswith("#[StartTime:"):
            start = float(line.split()[1])
        elif line and line[0].isdigit():
            stamp, _, _, encoded = line.split(",", 3)
            assert start is not None
            second = round(float(stamp) - start)
            if (lo is None or second >= lo) and (hi is None or second < hi):
                merged.add(HdrHistogram.decode(encoded.encode()))
    return merged


def test_the_streamed_report_judges_exactly_as_the_in_memory_load(outage: Path) -> None:
    streamed = write_report(outage)
    in_memory = build_summary(load_run(outage), parse_slo(SLO_TEXT), slo_source=streamed.slo_source)
    names = [p.name for p in streamed.phases]
    assert names == ["steady", "fault:opensearch-down", "recovered", "run"]
    assert streamed.model_dump() == in_memory.model_dump()
    assert json.loads((outage / "summary.json").read_text())["verdict"] == streamed.verdict.value


def test_each_phases_count_and_percentiles_equal_hdrhs_own_merge(outage: Path) -> None:
    summary = write_report(outage)
    for phase in summary.phases:
        lo, hi = math.floor(phase.start_s), math.ceil(phase.end_s - 1e-9)
        merged = _hdrh_merge(outage / "histograms" / "ALL.hlog", lo, hi)
        assert phase.overall.count == merged.get_total_count(), phase.name
        for name in ("p50", "p95", "p99"):
            expected = merged.get_value_at_percentile(float(name[1:])) / 1000
            assert getattr(phase.overall, f"{name}_ms") == expected, (phase.name, name)
        assert phase.overall.max_ms == merged.get_max_value() / 1000, phase.name


@pytest.mark.parametrize(
    ("lo", "hi"),
    [(None, None), (0, 90), (10, 31), (31, 31), (50, 20), (None, 45), (89, None), (-5, 200)],
    ids=["whole", "all-seconds", "inside", "empty", "reversed", "open-start", "open-end", "beyond"],
)
def test_a_histogram_file_merges_any_range_of_seconds_exactly(
    outage: Path, lo: int | None, hi: int | None
) -> None:
    hlog = outage / "histograms" / "ALL.hlog"
    problems: list[str] = []
    folded = HistogramFile(hlog, problems)
    folded.prefetch([30, 45])  # other cuts: the range is answered by reading again
    counts = folded.merged(lo, hi)
    expected = _hdrh_merge(hlog, lo, hi)
    assert hdr.total(counts) == expected.get_total_count()
    for p in (0.0, 50.0, 99.0, 100.0):
        assert hdr.value_at_percentile(counts, p) == expected.get_value_at_percentile(p)
    assert problems == []


def test_a_broken_histogram_file_makes_the_report_an_error_that_names_it(
    tmp_path: Path,
) -> None:
    run_dir = make_run_dir(tmp_path, samples=steady_samples(seconds=5, rps=10))
    hlog = run_dir / "histograms" / "ALL.hlog"
    lines = hlog.read_text().splitlines()
    lines[-1] = lines[-1].rsplit(",", 1)[0] + ",bm90IGEgaGlzdG9ncmFt"
    hlog.write_text("\n".join(lines) + "\n")
    summary = write_report(run_dir)
    assert summary.verdict.value == "error"
    assert any(r.startswith("histograms/ALL.hlog is unreadable") for r in summary.reasons)


def test_thinning_keeps_mean_rates_and_the_worst_seconds_latency() -> None:
    frame = pd.DataFrame(
        {
            "endpoint": ["ALL"] * 6,
            "requests": [10, 20, 30, 40, 50, 60],
            "fail_5xx": [1, 0, 3, 0, 0, 6],
            "p95_ms": [5.0, 9.0, 1.0, 2.0, 8.0, 3.0],
        },
        index=pd.Index([0, 1, 2, 3, 4, 5], name="second"),
    )
    thinned = charts.thin(frame, 4)
    assert thinned.index.tolist() == [0, 4]
    assert thinned["requests"].tolist() == [25.0, 55.0]
    assert thinned["p95_ms"].tolist() == [9.0, 8.0]
    assert (thinned["fail_5xx"] / thinned["requests"]).tolist() == [4 / 100, 6 / 110]
    assert charts.step_s(frame, max_points=2) == 3
    assert charts.thin(frame, 1) is frame


def _stretch(run_dir: Path, *, seconds: int) -> None:
    """Repeat a run directory's last second (its timeseries rows and histogram
    lines) up to `seconds`: a long run without recording each second anew."""
    table = run_dir / "timeseries.csv"
    rows = table.read_text().splitlines()
    last_second = rows[-1].split(",", 1)[0]
    last = [r.split(",", 1)[1] for r in rows if r.split(",", 1)[0] == last_second]
    more = [f"{s},{r}" for s in range(int(last_second) + 1, seconds) for r in last]
    table.write_text("\n".join(rows + more) + "\n")
    for hlog in (run_dir / "histograms").glob("*.hlog"):
        lines = hlog.read_text().splitlines()
        stamp, rest = lines[-1].split(",", 1)
        first = float(stamp)
        repeated = [f"{first + s:.3f},{rest}" for s in range(1, seconds - int(last_second))]
        hlog.write_text("\n".join(lines + repeated) + "\n")


def test_a_run_longer_than_the_chart_says_how_many_seconds_each_point_covers(
    tmp_path: Path,
) -> None:
    run_dir = make_run_dir(tmp_path, samples=steady_samples(seconds=2, rps=1, endpoints=[SEARCH]))
    _stretch(run_dir, seconds=2 * charts.MAX_POINTS + 1)
    summary = write_report(run_dir)
    assert summary.overall.count == 2 * charts.MAX_POINTS + 1
    html = (run_dir / "index.html").read_text()
    assert "one point per 3 s, the mean per second" in html
    assert "one point per second" not in html
