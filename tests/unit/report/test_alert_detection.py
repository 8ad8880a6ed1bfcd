"""Did we notice? The report reads `alert_firing` / `alert_resolved` events (it never asks
Prometheus): per fault, which alerts fired, the time to detect and to resolve, and the
SLO file's `detect_within` judged per alert. Alerts that nobody could watch are ERROR."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from factories import event, make_run_dir, steady_samples

from gameday.report import write_report
from gameday.report.summary import Summary

SLO = """
availability_pct: 50
overall:
  latency: {p95: 60s}
  error_rate_pct: 50
experiment_defaults: {rto: 10m}
experiments:
  opensearch-down:
    detect_within:
      'BreakerOpen{dependency="opensearch"}': 15s
      ServiceErrorRateHigh: 30s
"""

SOURCE = "http://127.0.0.1:29090"
BREAKER = {"dependency": "opensearch", "severity": "critical"}


def _fault(start: float = 10.0, end: float = 30.0) -> list[dict[str, object]]:
    return [
        event("fault_injected", start, name="opensearch-down", target="opensearch", fault="down"),
        event("fault_removed", end, name="opensearch-down", target="opensearch"),
    ]


def _report(tmp_path: Path, events: list[dict[str, object]]) -> tuple[Summary, Path]:
    run_dir = make_run_dir(
        tmp_path, samples=steady_samples(seconds=60, rps=10), events=events, slo_yaml=SLO
    )
    return write_report(run_dir), run_dir


def _watched(t_s: float = 1.0) -> dict[str, object]:
    names = ["BreakerOpen", "ServiceErrorRateHigh"]
    return event("alerts_watched", t_s, source=SOURCE, alerts=names)


def _detect(summary: Summary) -> dict[str, tuple[bool, float | None]]:
    return {
        o.name: (o.passed, o.measured)
        for o in summary.objectives
        if o.metric == "alert_detected_after_s"
    }


def test_time_to_detect_and_to_resolve_are_measured_from_the_fault_and_its_removal(
    tmp_path: Path,
) -> None:
    events = [
        _watched(),
        # firing before the fault: not this fault's detection
        event("alert_firing", 5.0, alert="OutboxBacklogHigh", labels={"severity": "warning"}),
        *_fault(),
        event("alert_firing", 22.5, alert="BreakerOpen", labels=BREAKER, severity="critical"),
        event("alert_resolved", 41.0, alert="BreakerOpen", labels=BREAKER),
    ]
    summary, run_dir = _report(tmp_path, events)

    (experiment,) = summary.experiments
    (seen,) = experiment.alerts
    assert (seen.alert, seen.labels, seen.severity) == ("BreakerOpen", BREAKER, "critical")
    assert (seen.fired_at_s, seen.detected_after_s) == (22.5, 12.5)
    assert (seen.resolved_at_s, seen.resolved_after_removal_s) == (41.0, 11.0)
    assert _detect(summary) == {
        'opensearch-down detects BreakerOpen{dependency="opensearch"}': (True, 12.5),
        "opensearch-down detects ServiceErrorRateHigh": (False, None),  # never fired
    }
    assert summary.verdict == "fail"
    never = next(o for o in summary.objectives if o.name.endswith("ServiceErrorRateHigh"))
    assert never.note == "never fired" and never.scope == "experiment:opensearch-down"
    html = (run_dir / "index.html").read_text()
    assert "alerts (did we notice?)" in html
    assert "time to detect <b>12.5 s</b>" in html and "11.0 s after the fault" in html
    written = json.loads((run_dir / "summary.json").read_text())
    assert written["experiments"][0]["alerts"][0]["detected_after_s"] == 12.5


def test_an_alert_seen_after_its_bound_violates_detect_within(tmp_path: Path) -> None:
    events = [
        _watched(),
        *_fault(),
        event("alert_firing", 27.0, alert="BreakerOpen", labels=BREAKER),
        event("alert_firing", 12.0, alert="ServiceErrorRateHigh", labels={"severity": "page"}),
    ]
    summary, _ = _report(tmp_path, events)
    assert _detect(summary) == {
        'opensearch-down detects BreakerOpen{dependency="opensearch"}': (False, 17.0),
        "opensearch-down detects ServiceErrorRateHigh": (True, 2.0),
    }
    (experiment,) = summary.experiments
    assert [a.resolved_at_s for a in experiment.alerts] == [None, None]  # never resolved


def test_labels_narrow_the_alert_a_detect_within_names(tmp_path: Path) -> None:
    other = {"dependency": "postgres", "severity": "critical"}
    events = [_watched(), *_fault(), event("alert_firing", 14.0, alert="BreakerOpen", labels=other)]
    summary, _ = _report(tmp_path, events)
    assert _detect(summary)['opensearch-down detects BreakerOpen{dependency="opensearch"}'] == (
        False,
        None,
    )


def test_no_alert_fired_is_said_in_the_report(tmp_path: Path) -> None:
    summary, run_dir = _report(tmp_path, [_watched(), *_fault()])
    assert summary.experiments[0].alerts == [] and summary.experiments[0].alerts_watched
    assert "no alert fired</span> after this fault" in (run_dir / "index.html").read_text()


def test_prometheus_unreachable_during_the_run_is_an_error_with_its_reason(tmp_path: Path) -> None:
    gap = event(
        "alerts_unreachable", 18.0, source=SOURCE, reason="ConnectError: refused", polls_failed=5
    )
    summary, run_dir = _report(tmp_path, [_watched(), *_fault(), gap])
    assert summary.verdict == "error"
    (reason,) = [r for r in summary.reasons if "Prometheus" in r]
    assert f"Prometheus at {SOURCE} unreachable from 18.0 s on (5 polls" in reason
    assert "detection cannot be judged" in reason
    assert reason in json.loads((run_dir / "summary.json").read_text())["reasons"]


@pytest.mark.parametrize("watched", [False, True])
def test_detect_within_on_a_run_whose_alerts_nobody_watched_is_an_error(
    tmp_path: Path, watched: bool
) -> None:
    events = ([_watched()] if watched else []) + _fault()
    summary, _ = _report(tmp_path, events)
    unwatched = [r for r in summary.reasons if "no alerts were watched" in r]
    assert bool(unwatched) is not watched
    assert (summary.verdict == "error") is not watched
