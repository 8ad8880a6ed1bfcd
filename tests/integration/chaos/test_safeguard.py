"""The stop condition fires for real: every request fails, the safeguard aborts the
method long before its planned end, the rollbacks restore the proxy, and the run, the
report and the exit code all say "aborted by safeguard" and never pass.

The experiment is api-partition (the `api` proxy in front of the service disabled, the
load sent through it with --via-proxy) with its fault held for 30 s and a stop condition
that needs only 8 s above 50% errors (the shipped one needs 30 s, longer than any
shipped fault) checked every second."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gameday.settings import StackSettings
from gameday.toxiproxy import ToxiproxyClient
from tests.integration.own_service import ROOT, gameday_run

PROXY = "api"
FAULT_S = 30  # planned: the safeguard must end it well before
WINDOW_S = 8  # the stop condition: errors above 50% in each of the last 8 s
PROBE = f"error-rate-below-50pct-over-{WINDOW_S}s"


def _json(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def _events(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


def _one(events: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [e for e in events if e["type"] == kind]
    return found


def make_experiment(directory: Path) -> Path:
    """api-partition with a long fault and a short stop condition."""
    experiment = _json(ROOT / "experiments" / "api-partition.json")
    experiment["title"] = "Client-side partition held until the stop condition ends it"
    experiment["configuration"]["fault_s"] = FAULT_S
    experiment["extensions"] = [{"name": "gameday", "warmup_s": 10, "recovery_s": 10}]
    (control,) = experiment["controls"]
    (probe,) = control["provider"]["arguments"]["probes"]
    probe["name"] = PROBE
    probe["frequency"] = 1
    probe["provider"]["arguments"] = {"threshold": 0.5, "window_s": WINDOW_S}
    (cut, back) = experiment["method"]
    assert cut["provider"]["func"] == "disable_proxy" and back["name"] == "api-back"
    back["pauses"] = {"after": 0}
    path = directory / "api-cut.json"
    path.write_text(json.dumps(experiment, indent=2))
    return path


def test_a_fault_that_fails_every_request_is_aborted_by_the_stop_condition(
    stack: StackSettings, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    lenient = ROOT / "tests" / "data" / "slo-lenient.yaml"  # only the stop condition can fail
    result = gameday_run(
        "--scenario",
        "read_only",
        "--rate",
        "20",
        "--via-proxy",
        "--slo",
        str(lenient),
        "--experiment",
        str(make_experiment(tmp_path)),
        "--duration",
        "50s",
        "--out",
        str(out),
    )
    output = result.stdout + result.stderr

    # The stop condition fired, during the fault, once it had seen 8 failing seconds.
    events = _events(out)
    injected = _one(events, "fault_injected")
    removed = _one(events, "fault_removed")
    tripped = _one(events, "safeguard_tripped")
    assert tripped["probe"] == PROBE and tripped["value"] is False
    assert injected["t_s"] + WINDOW_S - 1 <= tripped["t_s"] <= removed["t_s"], events
    journal = _json(out / "journal.json")
    (extension,) = [e for e in journal["extensions"] if e["name"] == "gameday"]
    assert extension["safeguard"]["probe"] == PROBE

    # The method was aborted: its pause cut short, its second step never ran ...
    assert journal["status"] == "interrupted"
    assert [r["activity"]["name"] for r in journal["run"]] == ["api-down"]
    assert removed["t_s"] - injected["t_s"] < FAULT_S - 10, (injected, removed)
    # ... and the rollback restored the proxy (nothing was left for the last-resort reset).
    assert [(r["activity"]["name"], r["status"]) for r in journal["rollbacks"]] == [
        ("api-back", "succeeded")
    ]
    with ToxiproxyClient(stack.toxiproxy_url) as client:
        proxy = client.proxies()[PROXY]
    assert proxy.enabled and not proxy.toxics, proxy

    outcome = _json(out / "experiment.json")
    assert outcome["aborted_by_safeguard"] is True
    assert outcome["safeguard"] == PROBE
    assert outcome["error"] == f"aborted by safeguard: {PROBE}"
    assert outcome["leftovers_before_reset"] == []
    assert outcome["verdict"] == "fail"

    # Everyone says so, and nobody says pass.
    assert result.returncode == 1, output
    assert f"experiment api-cut: FAIL - aborted by safeguard: {PROBE}" in result.stdout, output
    summary = _json(out / "summary.json")
    assert summary["verdict"] == "fail"
    violated = [o["name"] for o in summary["objectives"] if o["gating"] and not o["passed"]]
    assert violated == ["api-cut stop condition"], violated
    assert summary["outcomes"][0]["aborted_by_safeguard"] is True
    assert "aborted by safeguard" in (out / "index.html").read_text()
