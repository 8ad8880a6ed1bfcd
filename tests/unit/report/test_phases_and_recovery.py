"""Per-phase verdicts, RTO on a synthetic outage, breaker verification, RPO,
and ERROR for runs whose data cannot be trusted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from factories import SEARCH, Sample, event, fault, make_run_dir, steady_samples

from gameday.report import build_summary, load_run, write_report
from gameday.report.analysis import FaultWindow, measure_recovery, verify_breaker
from gameday.rundir import BreakerTransition
from gameday.slo import parse_slo

SLO_TEXT = """
overall:
  latency: {p95: 500ms}
  error_rate_pct: 0.1
sustained_window: 10s
experiments:
  opensearch-down:
    rto: 30s
    rpo: 0s
    max_lost_writes: 0
    breaker: {dependency: opensearch, open_within: 5s, close_within: 10s}
"""


def _outage_samples(*, breach_from: int, breach_to: int, seconds: int = 90) -> list[Sample]:
    """Search answers 503 for every request from breach_from to breach_to."""
    return [
        Sample(s.t_s, s.endpoint, s.latency_ms, "fail_5xx", s.request_id)
        if breach_from <= s.t_s < breach_to and s.endpoint == SEARCH
        else s
        for s in steady_samples(seconds=seconds, rps=20)
    ]


@pytest.fixture(scope="module")
def outage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    events = [
        *fault("opensearch-down", 30.0, 45.0),
        event(
            "breaker_transition",
            32.5,
            dependency="opensearch",
            from_state="closed",
            to_state="open",
        ),
        event(
            "breaker_transition",
            52.0,
            dependency="opensearch",
            from_state="open",
            to_state="closed",
        ),
    ]
    return make_run_dir(
        tmp_path_factory.mktemp("outage"),
        samples=_outage_samples(breach_from=30, breach_to=50),
        events=events,
        reconciliation={"acknowledged": 40, "present": 40, "lost": 0, "lost_ids": [], "rpo_s": 0.0},
    )


def _summary(run_dir: Path, slo_text: str = SLO_TEXT):  # type: ignore[no-untyped-def]
    return build_summary(load_run(run_dir), parse_slo(slo_text), slo_source="test")


def test_a_20_s_breach_gives_a_breach_length_of_20_s_and_the_rto_from_fault_start(
    outage: Path,
) -> None:
    experiment = _summary(outage).experiments[0]
    assert experiment.breach_s == pytest.approx(20.0, abs=1.0)
    assert experiment.rto_s == pytest.approx(20.0, abs=1.0)
    assert experiment.recovery_after_removal_s == pytest.approx(5.0, abs=1.0)
    assert experiment.impact_after_s == pytest.approx(0.0, abs=1.0)
    assert experiment.detected_after_s == pytest.approx(2.5)


def test_objectives_hold_before_and_after_and_break_only_inside_the_fault_window(
    outage: Path,
) -> None:
    summary = _summary(outage)
    by_name = {r.name: r for r in summary.objectives}
    assert by_name["overall error rate [steady]"].passed
    assert by_name["overall error rate [recovered]"].passed
    during = by_name["overall error rate [fault:opensearch-down]"]
    assert not during.passed and not during.gating
    assert [p.name for p in summary.phases] == [
        "steady",
        "fault:opensearch-down",
        "recovered",
        "run",
    ]
    recovered = next(p for p in summary.phases if p.name == "recovered")
    assert recovered.start_s == pytest.approx(50.0, abs=1.0)


def test_a_breaker_that_opens_in_time_and_closes_late_fails_only_the_close_check(
    outage: Path,
) -> None:
    summary = _summary(outage)
    by_name = {r.name: r for r in summary.objectives}
    assert by_name["opensearch-down opensearch breaker opens"].passed
    closes = by_name["opensearch-down opensearch breaker closes"]
    assert closes.measured == pytest.approx(7.0)
    assert closes.passed  # 7 s <= 10 s
    late = _summary(outage, SLO_TEXT.replace("close_within: 10s", "close_within: 5s"))
    assert not {r.name: r for r in late.objectives}[
        "opensearch-down opensearch breaker closes"
    ].passed
    assert late.verdict == "fail"


def test_an_outage_longer_than_the_rto_fails_the_run(outage: Path) -> None:
    summary = _summary(outage, SLO_TEXT.replace("rto: 30s", "rto: 15s"))
    rto = next(r for r in summary.objectives if r.metric == "rto_s")
    assert not rto.passed and rto.measured == pytest.approx(20.0, abs=1.0)
    assert summary.verdict == "fail"


def test_lost_writes_from_reconciliation_fail_the_rpo(tmp_path: Path) -> None:
    run_dir = make_run_dir(
        tmp_path,
        samples=_outage_samples(breach_from=30, breach_to=35, seconds=60),
        events=fault("opensearch-down", 30.0, 33.0),
        reconciliation={
            "acknowledged": 10,
            "present": 8,
            "lost": 2,
            "lost_ids": ["d1", "d2"],
            "rpo_s": 3.5,
        },
    )
    summary = _summary(run_dir)
    experiment = summary.experiments[0]
    assert (experiment.rpo_s, experiment.lost_writes, experiment.lost_ids) == (3.5, 2, ["d1", "d2"])
    failed = {r.metric for r in summary.violated()}
    assert {"rpo_s", "lost_writes"} <= failed


def test_a_run_the_generator_invalidated_is_error_never_pass(tmp_path: Path) -> None:
    run_dir = make_run_dir(
        tmp_path,
        samples=steady_samples(seconds=20, rps=20),
        generator={"valid": False, "reasons": ["worker 2 above 90% CPU for 12 s"]},
    )
    summary = write_report(run_dir, slo_path=None)
    assert summary.verdict == "error"
    assert any("worker 2 above 90% CPU for 12 s" in r for r in summary.reasons)
    html = (run_dir / "index.html").read_text()
    assert "ERROR" in html and "worker 2 above 90% CPU for 12 s" in html
    assert json.loads((run_dir / "summary.json").read_text())["verdict"] == "error"


@pytest.mark.parametrize(
    ("remove", "reason"),
    [
        ("histograms", "histograms/ is missing"),
        ("timeseries.csv", "timeseries.csv is missing"),
        ("run.json", "run.json is missing"),
        ("events.jsonl", "events.jsonl is missing"),
    ],
    ids=["no-histograms", "no-timeseries", "no-run-json", "no-events"],
)
def test_incomplete_data_is_error_and_the_report_says_why(
    tmp_path: Path, remove: str, reason: str
) -> None:
    run_dir = make_run_dir(tmp_path, samples=steady_samples(seconds=5, rps=10))
    target = run_dir / remove
    if target.is_dir():
        for child in target.iterdir():
            child.unlink()
        target.rmdir()
    else:
        target.unlink()
    summary = write_report(run_dir)
    assert summary.verdict == "error"
    assert any(reason in r for r in summary.reasons), summary.reasons
    assert reason in (run_dir / "index.html").read_text()


def test_an_interrupted_run_is_error(tmp_path: Path) -> None:
    run_dir = make_run_dir(
        tmp_path, samples=steady_samples(seconds=5, rps=10), status="interrupted"
    )
    assert write_report(run_dir).verdict == "error"


def test_recovery_needs_a_whole_sustained_window() -> None:
    ok = [True] * 10 + [False] * 5 + [True] * 3 + [False] + [True] * 20
    recovery = measure_recovery(ok, injected_s=10.0, removed_s=14.0, sustained_s=10.0)
    assert recovery.recovered_at_s == 19.0
    assert recovery.rto_s == 9.0
    assert (recovery.breach_start_s, recovery.breach_end_s) == (10.0, 19.0)
    assert recovery.breached_seconds == 6


def test_a_fault_that_never_hurts_has_zero_rto() -> None:
    recovery = measure_recovery([True] * 40, injected_s=10.2, removed_s=20.0, sustained_s=10.0)
    assert recovery.rto_s == 0.0 and recovery.breach_s == 0.0


def test_a_breaker_that_never_opens_fails_verification() -> None:
    window = FaultWindow(name="x", target="os", fault="down", injected_s=10.0, removed_s=20.0)
    check = verify_breaker(
        [BreakerTransition(t_s=5.0, dependency="os", to_state="open")],
        dependency="os",
        window=window,
        open_within_s=5.0,
        close_within_s=None,
    )
    assert not check.passed and check.note == "never opened"
