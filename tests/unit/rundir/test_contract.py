"""The run directory's contract (gameday.rundir): what a writer appends is what a reader
loads, typed; older run directories and unknown event types still load."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gameday.report import load_run
from gameday.rundir import (
    EVENT_TYPES,
    BreakerTransition,
    FaultInjected,
    GeneratorReport,
    LoadStarted,
    OtherEvent,
    Reconciliation,
    RunDir,
    RunRecord,
    parse_event,
)

EXAMPLE = Path(__file__).resolve().parents[3] / "reports" / "example"


def test_an_appended_event_loads_back_as_its_own_class_on_the_load_clock(tmp_path: Path) -> None:
    run_dir = RunDir(tmp_path)
    (tmp_path / "live.json").write_text(json.dumps({"start_epoch": 1_000.0}))
    run_dir.append_event(FaultInjected(epoch=1_012.5, name="redis-down", target="redis"))
    run_dir.append_event(BreakerTransition(epoch=1_013.0, dependency="redis", to_state="open"))
    injected, opened = run_dir.load_events()
    assert isinstance(injected, FaultInjected) and injected.t_s == 12.5
    assert injected.wall == "1970-01-01T00:16:52.500Z"
    assert isinstance(opened, BreakerTransition) and opened.to_state == "open"


@pytest.mark.parametrize("kind", sorted(EVENT_TYPES))
def test_each_event_type_is_its_own_class(kind: str) -> None:
    cls = EVENT_TYPES[kind]
    required = {
        name: (True if field.annotation is bool else "x")
        for name, field in cls.model_fields.items()
        if field.is_required() and name != "type"
    }
    if "result" in required:
        required["result"] = "held"
    event = parse_event(json.dumps({"type": kind, "t_s": 1.0, "epoch": 5.0, **required}))
    assert type(event) is cls


def test_an_unknown_event_type_loads_with_its_fields_kept() -> None:
    line = '{"type": "dns_flushed", "t_s": 3.0, "wall": "2026-11-29T07:37:25Z", "n": 2}'
    event = parse_event(line)
    assert isinstance(event, OtherEvent) and event.type == "dns_flushed"
    assert event.model_extra == {"n": 2}
    assert event.epoch == pytest.approx(1795937845.0)  # from `wall`, as older events lack it


def test_an_event_without_t_s_is_dated_once_the_load_start_is_known(tmp_path: Path) -> None:
    run_dir = RunDir(tmp_path)
    run_dir.append_event(LoadStarted(epoch=99.0))  # before live.json: no t_s
    assert run_dir.load_events()[0].t_s is None
    (tmp_path / "live.json").write_text(json.dumps({"start_epoch": 100.0}))
    assert run_dir.backfill_event_times() == 1
    assert run_dir.load_events()[0].t_s == -1.0


def test_the_records_round_trip_through_the_run_directory(tmp_path: Path) -> None:
    run_dir = RunDir(tmp_path)
    record = RunRecord(run_id="r", status="running", stopped_early="because")
    run_dir.write_run_record(record)
    assert run_dir.load_run_record() == record
    report = GeneratorReport(start_epoch=1.0, stop_epoch=2.0, total_requests=3)
    run_dir.write_generator_report(report)
    assert run_dir.load_generator_report() == report
    assert report.info().total_requests == 3 and "start_epoch" not in report.info().model_dump()
    run_dir.write_reconciliation(Reconciliation(not_yet_indexed=4))
    assert run_dir.load_reconciliation() == Reconciliation(not_yet_indexed=4)
    assert json.loads((tmp_path / "reconciliation.json").read_text())["not_yet_indexed"] == 4


def test_a_broken_line_is_named_and_skipped_by_a_tolerant_reader(tmp_path: Path) -> None:
    (tmp_path / "events.jsonl").write_text('{"type": "fault_injected", "t_s": 1}\n')
    problems: list[str] = []
    assert RunDir(tmp_path).load_events(problems) == []
    assert problems == ["events.jsonl:1 is invalid: fault_injected.name: Field required"]


def test_the_committed_example_run_directory_loads_without_problems(tmp_path: Path) -> None:
    """reports/example predates the contract (events without epoch, the old name of
    not_yet_indexed): it must still load completely."""
    copy = tmp_path / "example"
    shutil.copytree(EXAMPLE, copy)
    run = load_run(copy)
    assert run.problems == []
    assert [type(e).__name__ for e in run.events][:3] == [
        "LoadStarted",
        "StageChanged",
        "ExperimentStarted",
    ]
    assert run.outcomes[0].name == "redis-down" and run.reconciliation is not None
