"""A user's experiment that uses only chaostoolkit-toxiproxy, under `gameday run`
against the stack's Toxiproxy: gameday gives it the profile's Toxiproxy URL (the
experiment's own value points nowhere), infers its fault window from the journal,
judges it as the experiment's own and says it was inferred; no toxic is left."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from gameday.settings import StackSettings
from tests.integration.chaos.evidence import Run, assert_no_fault_left
from tests.integration.own_service import RunningService, gameday_run

TOXIC = "user-redis-latency"
FAULT_S = 8


def _toxi(name: str, func: str, **arguments: Any) -> dict[str, Any]:
    provider = {"type": "python", "module": "chaostoxi.toxic.actions", "func": func}
    return {
        "type": "action",
        "name": name,
        "provider": {**provider, "arguments": {"for_proxy": "redis", **arguments}},
    }


def _experiment(path: Path) -> Path:
    slow = _toxi("redis-slow", "create_latency_toxic", toxic_name=TOXIC, latency=150)
    experiment = {
        "title": "Redis 150 ms slower, through chaostoolkit-toxiproxy",
        "description": "A user's experiment: no gameday provider at all.",
        # a wrong URL on purpose: gameday run must pass its profile's (--var toxiproxy_url)
        "configuration": {"toxiproxy_url": "http://127.0.0.1:1"},
        "extensions": [{"name": "gameday", "warmup_s": 10, "recovery_s": 10}],
        "method": [
            {**slow, "pauses": {"after": FAULT_S}},
            _toxi("redis-fast", "delete_toxic", toxic_name=TOXIC),
        ],
        "rollbacks": [_toxi("redis-fast-again", "delete_toxic", toxic_name=TOXIC)],
    }
    path.write_text(json.dumps(experiment, indent=2))
    return path


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def test_a_chaostoolkit_toxiproxy_experiment_gets_an_inferred_window_judged_as_its_own(
    own_service: RunningService, stack: StackSettings, tmp_path: Path
) -> None:
    experiment = _experiment(tmp_path / "user-redis-latency.json")
    out = tmp_path / "run"
    result = gameday_run(
        "--scenario", "search_mix", "--rate", "10", "--target", own_service.url,
        "--experiment", str(experiment), "--out", str(out),
    )  # fmt: skip
    run = Run(out, result.returncode, result.stdout + result.stderr)
    assert result.returncode in (0, 1), run.output
    assert run.summary["verdict"] in ("pass", "fail"), run.summary["reasons"]

    journal = json.loads((out / "journal.json").read_text())
    created, removed = journal["run"]
    assert created["status"] == "succeeded" and created["output"] is True, created
    outcome = run.outcome
    window = outcome["inferred_window"]
    assert window["until"] == "last action"
    assert window["start_epoch"] == round(_epoch(created["end"]), 3)
    assert window["end_epoch"] == round(_epoch(removed["end"]), 3)
    assert FAULT_S <= window["end_epoch"] - window["start_epoch"] < FAULT_S + 2

    (judged,) = run.summary["experiments"]
    assert judged["name"] == "user-redis-latency" and judged["fault"] == "inferred"
    assert "inferred from the journal" in judged["inferred"]
    length_s = window["end_epoch"] - window["start_epoch"]
    assert abs(judged["removed_s"] - judged["injected_s"] - length_s) < 0.01
    own = [o for o in run.summary["objectives"] if o["experiment"] == "user-redis-latency"]
    assert any(o["metric"] == "rto_s" and o["gating"] for o in own), own
    assert "fault window inferred from its journal" in result.stdout
    assert "inferred from the journal" in (out / "index.html").read_text()
    assert_no_fault_left(stack, "redis")
