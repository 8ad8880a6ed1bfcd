"""Events recorded before the load's first report get their place on the one clock."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gameday.chaos.events import backfill_times, record_event


def test_events_written_before_live_json_get_their_t_s_afterwards(tmp_path: Path) -> None:
    early = record_event("experiment_started", tmp_path, name="x")
    assert early["t_s"] is None  # no live.json yet: Locust has not reported
    start = early["epoch"] - 2.5  # the load had started 2.5 s before that event
    (tmp_path / "live.json").write_text(json.dumps({"start_epoch": start}))
    later = record_event("fault_injected", tmp_path, name="x")
    assert later["t_s"] == pytest.approx(later["epoch"] - start, abs=0.01)

    assert backfill_times(tmp_path) == 1
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [e["t_s"] for e in events] == [pytest.approx(2.5, abs=0.01), later["t_s"]]
    assert backfill_times(tmp_path) == 0  # nothing left to fix


def test_without_live_json_nothing_is_changed(tmp_path: Path) -> None:
    record_event("experiment_started", tmp_path)
    before = (tmp_path / "events.jsonl").read_text()
    assert backfill_times(tmp_path) == 0
    assert (tmp_path / "events.jsonl").read_text() == before
