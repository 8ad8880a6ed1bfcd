"""The chaos side's timeline: events recorded before the load's first report get their
place on the one clock, and a provider outside `gameday run` says which --var it lacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gameday.chaos import faults, probes
from gameday.chaos.events import RUN_DIR_VAR, configuration_for, run_dir_of
from gameday.errors import ConfigError
from gameday.rundir import ExperimentStarted, FaultInjected, RunDir


def test_events_written_before_live_json_get_their_t_s_afterwards(tmp_path: Path) -> None:
    run_dir = RunDir(tmp_path)
    early = run_dir.append_event(ExperimentStarted(name="x"))
    assert early.t_s is None  # no live.json yet: Locust has not reported
    start = early.epoch - 2.5  # the load had started 2.5 s before that event
    (tmp_path / "live.json").write_text(json.dumps({"start_epoch": start}))
    later = run_dir.append_event(FaultInjected(name="x"))
    assert later.t_s == pytest.approx(later.epoch - start, abs=0.01)

    assert run_dir.backfill_event_times() == 1
    events = run_dir.load_events()
    assert [e.t_s for e in events] == [pytest.approx(2.5, abs=0.01), later.t_s]
    assert isinstance(events[0], ExperimentStarted) and isinstance(events[1], FaultInjected)
    assert run_dir.backfill_event_times() == 0  # nothing left to fix


def test_without_live_json_nothing_is_changed(tmp_path: Path) -> None:
    RunDir(tmp_path).append_event(ExperimentStarted(name="x"))
    before = (tmp_path / "events.jsonl").read_text()
    assert RunDir(tmp_path).backfill_event_times() == 0
    assert (tmp_path / "events.jsonl").read_text() == before


def test_the_run_directory_comes_from_the_configuration(tmp_path: Path) -> None:
    assert run_dir_of(configuration_for(tmp_path)) == RunDir(tmp_path)


@pytest.mark.parametrize(
    "call",
    [
        lambda: faults.disable_proxy("redis"),
        lambda: faults.add_latency("redis", 100, configuration={}),
        lambda: probes.slo_holds(configuration={"p95_max_ms": 500}),
        lambda: probes.error_rate_below(0.5, 30),
    ],
    ids=["fault-without-configuration", "fault", "probe", "safeguard-probe"],
)
def test_a_provider_without_the_run_directory_names_the_var_to_set(call: object) -> None:
    """Before touching the stack (no Toxiproxy is running here)."""
    with pytest.raises(ConfigError) as raised:
        call()  # type: ignore[operator]
    message = str(raised.value)
    assert f"--var {RUN_DIR_VAR}=RUN_DIR" in message and "\n" not in message


def test_a_plain_chaos_run_fails_on_the_missing_var_with_one_line(tmp_path: Path) -> None:
    """`chaos run` of an experiment outside `gameday run`: the activity fails and the
    journal says which --var to give."""
    experiment = {
        "title": "a probe outside gameday run",
        "description": "-",
        "method": [
            {
                "type": "probe",
                "name": "slo",
                "provider": {
                    "type": "python",
                    "module": "gameday.chaos.probes",
                    "func": "slo_holds",
                    "arguments": {"window_s": 5},
                },
            }
        ],
    }
    path = tmp_path / "experiment.json"
    path.write_text(json.dumps(experiment))
    journal = tmp_path / "journal.json"
    subprocess.run(
        [sys.executable, "-m", "chaostoolkit", "--log-file", str(tmp_path / "chaos.log"), "run"]
        + ["--journal-path", str(journal), str(path)],
        capture_output=True,
        timeout=120,
        check=False,
    )
    (run,) = json.loads(journal.read_text())["run"]
    assert run["status"] == "failed"
    assert f"--var {RUN_DIR_VAR}=RUN_DIR" in run["exception"][-1]
