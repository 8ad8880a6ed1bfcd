"""The independent prober's analysis (pure: synthetic answers in, windows out) and the
cross-check of its windows against a harness run directory."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.integration.prober import Probe, infer_windows, judge, read_probes
from tests.integration.prober_crosscheck import (
    HarnessWindows,
    cross_check,
    harness_windows,
    load_start_epoch,
)

T0 = 1_800_000_000.0  # an epoch; every synthetic time is T0 + seconds
STEP_S = 0.2


def healthy(t: float) -> Probe:
    return Probe(t=T0 + t, status=200, latency_ms=12.0)


def refused(t: float) -> Probe:
    return Probe(t=T0 + t, status=503, latency_ms=4.0)


def tried_503(t: float) -> Probe:  # the engine call failed after its retries
    return Probe(t=T0 + t, status=503, latency_ms=790.0)


def degraded(t: float) -> Probe:
    return Probe(t=T0 + t, status=200, latency_ms=6.0, degraded="stale-cache")


def refused_connection(t: float) -> Probe:
    return Probe(t=T0 + t, status=None, latency_ms=1.0, error="connection")


def answers(
    start_s: float, end_s: float, make: Callable[[float], Probe] | Iterable[Callable[..., Probe]]
) -> list[Probe]:
    """One answer every STEP_S in [start_s, end_s); several makers take turns."""
    makers = [make] if callable(make) else list(make)
    n = round((end_s - start_s) / STEP_S)
    return [makers[i % len(makers)](start_s + i * STEP_S) for i in range(n)]


@pytest.mark.parametrize(
    ("probe", "verdict"),
    [
        (healthy(0), "healthy"),
        (degraded(0), "degraded"),
        (refused(0), "refused"),
        (tried_503(0), "failed"),
        (Probe(t=T0, status=503, latency_ms=250.0), "failed"),
        (Probe(t=T0, status=200, latency_ms=1500.0), "slow"),
        (Probe(t=T0, status=500, latency_ms=3.0), "failed"),
        (Probe(t=T0, status=None, latency_ms=2000.0, error="timeout"), "failed"),
        (refused_connection(0), "failed"),
    ],
    ids=[
        "2xx",
        "x-degraded",
        "fast-503",
        "slow-503",
        "503-at-the-fast-limit",
        "slow-2xx",
        "fast-500",
        "timeout",
        "connection-refused",
    ],
)
def test_each_answer_is_judged_by_status_header_and_latency(probe: Probe, verdict: str) -> None:
    assert judge(probe) == verdict


def test_steady_healthy_answers_show_no_outage() -> None:
    windows = infer_windows(answers(0, 60, healthy))
    assert windows.outages == [] and windows.outage is None and windows.breaker_open is None
    assert windows.answers == 300
    assert windows.recovery_after(T0 + 10) == 0.0


def test_a_cut_connection_is_an_outage_from_its_first_to_its_last_failure_without_breaker() -> None:
    probes = answers(0, 10, healthy) + answers(10, 20, refused_connection)
    probes += answers(20, 40, healthy)
    outage = infer_windows(probes).outage
    assert outage is not None
    assert outage.start == T0 + 10
    assert outage.last_bad == pytest.approx(T0 + 19.8)
    assert outage.recovered_at == T0 + 20
    assert outage.counts == {"failed": 50}
    assert outage.breaker_open is None  # refused connections are no breaker's answer


def test_the_breaker_window_spans_the_fast_503s_and_degraded_answers_only() -> None:
    probes = answers(0, 10, healthy)
    probes += answers(10, 11, tried_503)  # failing, breaker still closed
    probes += answers(11, 40, (refused, degraded))  # open: refused or stale at once
    probes += answers(40, 41, tried_503)  # a half-open trial that failed
    probes += answers(41, 60, healthy)
    windows = infer_windows(probes)
    outage = windows.outage
    assert outage is not None and outage.start == T0 + 10
    assert outage.last_bad == pytest.approx(T0 + 40.8)
    assert outage.recovered_at == pytest.approx(T0 + 41)
    span = windows.breaker_open
    assert span is not None
    assert span.start == pytest.approx(T0 + 11) and span.end == pytest.approx(T0 + 39.8)
    assert (span.refused, span.degraded) == (73, 72)
    assert outage.counts == {"failed": 10, "refused": 73, "degraded": 72}


def test_healthy_answers_shorter_than_the_sustained_window_do_not_end_the_outage() -> None:
    probes = answers(0, 10, healthy) + answers(10, 15, refused)
    probes += answers(15, 18, healthy)  # 3 s of health: not yet recovered
    probes += answers(18, 20, refused) + answers(20, 40, healthy)
    windows = infer_windows(probes, sustained_s=10)
    assert len(windows.outages) == 1
    outage = windows.outage
    assert outage is not None
    assert (outage.start, outage.recovered_at) == (T0 + 10, pytest.approx(T0 + 20))
    assert windows.recovery_after(T0 + 10) == pytest.approx(10.0)


def test_the_sustained_window_decides_what_counts_as_recovered() -> None:
    probes = answers(0, 10, refused) + answers(10, 13, healthy) + answers(13, 14, refused)
    probes += answers(14, 30, healthy)
    assert infer_windows(probes, sustained_s=2).outages[0].recovered_at == T0 + 10
    assert infer_windows(probes, sustained_s=5).outages[0].recovered_at == pytest.approx(T0 + 14)


def test_no_recovery_until_the_answers_have_stayed_healthy_for_the_sustained_window() -> None:
    probes = answers(0, 10, healthy) + answers(10, 20, refused) + answers(20, 25, healthy)
    windows = infer_windows(probes, sustained_s=10)
    outage = windows.outage
    assert outage is not None and outage.recovered_at is None
    assert windows.recovery_after(T0 + 10) is None


def test_a_gap_in_the_answers_is_no_evidence_of_health() -> None:
    probes = answers(0, 10, refused) + [healthy(10)] + answers(13, 30, healthy)  # 3 s silent
    outage = infer_windows(probes, sustained_s=5, max_gap_s=1.0).outage
    assert outage is not None
    assert outage.recovered_at == T0 + 13
    assert outage.last_bad == pytest.approx(T0 + 9.8)


def test_a_lone_blip_before_the_fault_is_its_own_outage_and_not_the_main_one() -> None:
    probes = answers(0, 5, healthy) + [tried_503(5)] + answers(5.2, 30, healthy)
    probes += answers(30, 45, refused) + answers(45, 60, healthy)
    windows = infer_windows(probes, sustained_s=10)
    assert [o.start for o in windows.outages] == [T0 + 5, T0 + 30]
    assert windows.outage is windows.outages[1]
    assert windows.outage_after(T0 + 30) is windows.outages[1]
    assert windows.recovery_after(T0 + 30) == pytest.approx(15.0)


def test_slow_answers_are_part_of_an_outage() -> None:
    slow = [Probe(t=T0 + 10 + i * STEP_S, status=200, latency_ms=1800.0) for i in range(10)]
    probes = answers(0, 10, healthy) + slow + answers(12, 30, healthy)
    outage = infer_windows(probes, sustained_s=10).outage
    assert outage is not None and outage.counts == {"slow": 10}
    assert outage.breaker_open is None


def test_answers_are_analysed_in_time_order_whatever_order_they_were_written() -> None:
    probes = answers(0, 10, healthy) + answers(10, 20, refused) + answers(20, 40, healthy)
    assert infer_windows(reversed(probes)) == infer_windows(probes)


def test_the_records_file_is_read_skipping_a_half_written_last_line(tmp_path: Path) -> None:
    path = tmp_path / "probes.jsonl"
    rows = [
        {"t": T0, "kind": "fixed", "q": "a", "status": 200, "latency_ms": 3.0},
        {"t": T0 + 0.2, "kind": "uncached", "status": None, "latency_ms": 1.0,
         "error": "connection"},
    ]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"t": 18000')
    assert read_probes(path) == [
        Probe(t=T0, status=200, latency_ms=3.0, kind="fixed"),
        Probe(t=T0 + 0.2, status=None, latency_ms=1.0, error="connection", kind="uncached"),
    ]


# ---------------------------------------------------------------- the harness's side

LOAD_START = T0 - 100.0  # the harness's t_s = 0


def event(kind: str, t_s: float, **fields: Any) -> dict[str, Any]:
    epoch = LOAD_START + t_s
    wall = datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")
    return {"type": kind, "t_s": t_s, "wall": wall.replace("+00:00", "Z"), "epoch": epoch,
            **fields}  # fmt: skip


def write_run(run_dir: Path, events: list[dict[str, Any]], experiment: dict[str, Any]) -> Path:
    run_dir.mkdir()
    (run_dir / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    (run_dir / "summary.json").write_text(json.dumps({"experiments": [experiment]}))
    return run_dir


def breaker(t_s: float, before: str, after: str) -> dict[str, Any]:
    return event("breaker_transition", t_s, dependency="opensearch", from_state=before,
                 to_state=after)  # fmt: skip


OPENSEARCH_DOWN_EVENTS = [
    event("load_started", 0.0),
    event("fault_injected", 110.0, name="opensearch-down", target="opensearch"),
    breaker(111.4, "closed", "open"),
    event("fault_removed", 120.0, name="opensearch-down", target="opensearch"),
    breaker(141.5, "open", "half_open"),
    breaker(142.5, "half_open", "closed"),
    event("load_stopped", 170.0, reason="completed"),
]
OPENSEARCH_DOWN = {"name": "opensearch-down", "rto_s": 33.0, "recovered_at_s": 143.0}


def test_the_load_start_is_the_wall_clock_minus_the_load_clock_of_any_event() -> None:
    assert load_start_epoch(OPENSEARCH_DOWN_EVENTS) == pytest.approx(LOAD_START)
    without_epoch = [{k: v for k, v in e.items() if k != "epoch"} for e in OPENSEARCH_DOWN_EVENTS]
    assert load_start_epoch(without_epoch) == pytest.approx(LOAD_START, abs=0.001)


def test_the_harness_windows_are_read_onto_the_wall_clock(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", OPENSEARCH_DOWN_EVENTS, OPENSEARCH_DOWN)
    windows = harness_windows(run, fault="opensearch-down", dependency="opensearch")
    assert windows == HarnessWindows(
        load_start=pytest.approx(LOAD_START),
        injected=pytest.approx(T0 + 10),
        removed=pytest.approx(T0 + 20),
        rto_s=33.0,
        recovered_at=pytest.approx(T0 + 43),
        breaker_opened=pytest.approx(T0 + 11.4),
        breaker_left_open=pytest.approx(T0 + 41.5),
        breaker_closed=pytest.approx(T0 + 42.5),
    )


def prober_saw(open_s: float, closed_s: float, recovered_s: float) -> list[Probe]:
    probes = answers(0, 10, healthy) + answers(10, open_s, tried_503)
    probes += answers(open_s, closed_s, (refused, degraded))
    probes += answers(closed_s, recovered_s, tried_503)
    return probes + answers(recovered_s, recovered_s + 15, healthy)


def test_the_cross_check_agrees_when_both_saw_the_same_outage(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", OPENSEARCH_DOWN_EVENTS, OPENSEARCH_DOWN)
    harness = harness_windows(run, fault="opensearch-down", dependency="opensearch")
    comparison = cross_check(infer_windows(prober_saw(11, 42, 42.4)), harness)
    assert comparison.agrees, comparison
    rows = {r.what: (r.prober, r.harness) for r in comparison.rows}
    assert rows["RTO"] == (pytest.approx(32.4), 33.0)
    assert rows["breaker opened"] == (pytest.approx(1.0), pytest.approx(1.4))
    assert rows["breaker left open"] == (pytest.approx(31.8), pytest.approx(31.5))


def test_a_long_half_open_is_compared_where_the_breaker_stopped_refusing(tmp_path: Path) -> None:
    """Half-open answers its trial calls: the prober's refusals end there, while the
    breaker reads closed only after its last trial, here 3.5 s later."""
    events = [e for e in OPENSEARCH_DOWN_EVENTS if e["type"] != "breaker_transition"]
    events += [breaker(111.4, "closed", "open"), breaker(141.5, "open", "half-open")]
    events += [breaker(145.0, "half-open", "closed")]
    run = write_run(tmp_path / "run", events, OPENSEARCH_DOWN)
    harness = harness_windows(run, fault="opensearch-down", dependency="opensearch")
    assert harness.breaker_closed == pytest.approx(T0 + 45.0)
    comparison = cross_check(infer_windows(prober_saw(11, 42, 42.4)), harness)
    assert comparison.agrees, comparison
    still_refusing = cross_check(infer_windows(prober_saw(11, 45.5, 46)), harness)
    assert [r.what for r in still_refusing.rows if not r.agrees] == ["breaker left open"]


@pytest.mark.parametrize(
    ("seen", "wrong"),
    [
        ((15, 42, 42.4), "breaker opened"),
        ((11, 36, 42.4), "breaker left open"),
        ((11, 42, 47), "RTO"),
    ],
    ids=["opened-late", "closed-early", "recovered-late"],
)
def test_the_cross_check_names_each_time_more_than_the_tolerance_apart(
    tmp_path: Path, seen: tuple[float, float, float], wrong: str
) -> None:
    run = write_run(tmp_path / "run", OPENSEARCH_DOWN_EVENTS, OPENSEARCH_DOWN)
    harness = harness_windows(run, fault="opensearch-down", dependency="opensearch")
    comparison = cross_check(infer_windows(prober_saw(*seen)), harness, tolerance_s=3.0)
    assert [r.what for r in comparison.rows if not r.agrees] == [wrong]
    assert "DISAGREE" in str(comparison)


def test_an_outage_the_prober_never_saw_disagrees_with_a_harness_breaker(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", OPENSEARCH_DOWN_EVENTS, OPENSEARCH_DOWN)
    harness = harness_windows(run, fault="opensearch-down", dependency="opensearch")
    comparison = cross_check(infer_windows(answers(0, 60, healthy)), harness)
    assert {r.what for r in comparison.rows if not r.agrees} == {
        "RTO",
        "breaker opened",
        "breaker left open",
    }


def test_without_a_breaker_only_the_recovery_is_compared(tmp_path: Path) -> None:
    events = [
        event("load_started", 0.0),
        event("fault_injected", 110.0, name="kill-worker", target="service"),
        event("fault_removed", 110.1, name="kill-worker", target="service"),
    ]
    run = write_run(tmp_path / "run", events, {"name": "kill-worker", "rto_s": 1.0,
                                                "recovered_at_s": 111.0})  # fmt: skip
    harness = harness_windows(run)  # the run's only fault
    probes = answers(0, 10, healthy) + [refused_connection(10)] + answers(10.2, 30, healthy)
    comparison = cross_check(infer_windows(probes), harness, breaker=False)
    assert [r.what for r in comparison.rows] == ["RTO"]
    assert comparison.agrees, comparison


def test_a_run_with_several_faults_needs_the_fault_named(tmp_path: Path) -> None:
    second = event("fault_injected", 115.0, name="redis-down", target="redis")
    run = write_run(tmp_path / "run", [*OPENSEARCH_DOWN_EVENTS[:2], second], OPENSEARCH_DOWN)
    with pytest.raises(ValueError, match=r"name the fault: .*'opensearch-down', 'redis-down'"):
        harness_windows(run)
    assert harness_windows(run, fault="opensearch-down").injected == pytest.approx(T0 + 10)
