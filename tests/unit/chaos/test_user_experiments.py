"""A user's experiment (chaostoolkit-toxiproxy or their own providers) is accepted; its
fault window is inferred from the journal; the proxies reset after it are the profile's;
`chaos run` is given the profile's sources as --var values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gameday.app.plan import reference_profile
from gameday.chaos.configuration import chaos_configuration, moved_metrics_url
from gameday.chaos.experiment import InvalidExperiment, load_experiment
from gameday.chaos.inferred import infer_window
from gameday.chaos.sidecar import FAULT_MODULES, named_proxies, proxies_named
from gameday.settings import PROJECT_ROOT, StackSettings
from gameday.target import load_profile


def _action(name: str, module: str, func: str, **arguments: Any) -> dict[str, Any]:
    provider = {"type": "python", "module": module, "func": func, "arguments": arguments}
    return {"type": "action", "name": name, "provider": provider}


TOXI = "chaostoxi.toxic.actions"


def _toxi_experiment(tmp_path: Path, **extra: Any) -> Path:
    experiment = {
        "title": "redis latency through chaostoolkit-toxiproxy",
        "description": "-",
        "configuration": {"toxiproxy_url": "http://127.0.0.1:1"},
        "method": [
            _action("slow", TOXI, "create_latency_toxic", for_proxy="redis", toxic_name="l",
                    latency=300),
            _action("fast", TOXI, "delete_toxic", for_proxy="redis", toxic_name="l"),
        ],
        **extra,
    }  # fmt: skip
    path = tmp_path / "toxi.json"
    path.write_text(json.dumps(experiment))
    return path


def test_an_experiment_using_chaostoolkit_toxiproxy_loads_and_names_its_proxies(
    tmp_path: Path,
) -> None:
    experiment = load_experiment(_toxi_experiment(tmp_path))
    assert proxies_named(experiment, {}) == {"redis"}


def test_a_users_own_provider_must_import(tmp_path: Path) -> None:
    path = _toxi_experiment(tmp_path)
    data = json.loads(path.read_text())
    data["method"][0]["provider"]["module"] = "shop_chaos.not_installed"
    path.write_text(json.dumps(data))
    with pytest.raises(InvalidExperiment, match=r"module 'shop_chaos.not_installed' does not"):
        load_experiment(path)


def test_a_users_action_that_names_no_proxy_resets_all_of_the_profiles(tmp_path: Path) -> None:
    path = _toxi_experiment(tmp_path)
    data = json.loads(path.read_text())
    data["method"].append(_action("mine", "json", "dumps", obj=1))  # a module of the user's
    path.write_text(json.dumps(data))
    experiment = load_experiment(path)
    assert proxies_named(experiment, {}) is None
    # those it does name are still reset with the profile's (the stack's api proxy)
    assert named_proxies(experiment, {}) == {"redis"}


def _run(module: str, name: str, end: str, status: str = "succeeded") -> dict[str, Any]:
    activity = _action(name, module, "f")
    return {"activity": activity, "status": status, "start": end, "end": end}


def test_the_window_runs_from_the_first_actions_end_to_the_last_ones() -> None:
    journal = {
        "status": "completed",
        "run": [
            _run(TOXI, "slow", "2026-11-30T10:00:01+00:00"),
            _run(TOXI, "fast", "2026-11-30T10:00:31.5+00:00"),
        ],
        "rollbacks": [_run(TOXI, "fast", "2026-11-30T10:00:32+00:00")],
    }
    window = infer_window(journal, FAULT_MODULES)
    assert window is not None and window.until == "last action"
    assert window.end_epoch is not None and window.end_epoch - window.start_epoch == 30.5


def test_a_failed_method_ends_its_window_at_the_first_rollback() -> None:
    journal = {
        "status": "failed",
        "run": [
            _run(TOXI, "slow", "2026-11-30T10:00:01+00:00"),
            _run(TOXI, "fast", "2026-11-30T10:00:02+00:00", status="failed"),
        ],
        "rollbacks": [_run(TOXI, "fast", "2026-11-30T10:00:09+00:00")],
    }
    window = infer_window(journal, FAULT_MODULES)
    assert window is not None and window.until == "first rollback"
    assert window.end_epoch is not None and window.end_epoch - window.start_epoch == 8.0


def test_a_method_with_gamedays_own_faults_has_its_recorded_windows_instead() -> None:
    journal = {
        "status": "completed",
        "run": [_run("gameday.chaos.faults", "down", "2026-11-30T10:00:01+00:00")],
    }
    assert infer_window(journal, FAULT_MODULES) is None


def test_chaos_run_gets_the_profiles_toxiproxy_and_the_profile_itself(tmp_path: Path) -> None:
    profile = reference_profile()
    values = chaos_configuration(profile, tmp_path, StackSettings(), profile.base_url)
    assert values["toxiproxy_url"] == profile.toxiproxy.url
    assert "gameday_metrics_url" not in values  # the service is where the profile says
    written = load_profile(Path(values["gameday_profile"]))
    assert written.signals == profile.signals and written.dependencies == profile.dependencies


def test_the_metrics_endpoint_moves_with_the_service_under_target() -> None:
    profile = reference_profile()
    moved = moved_metrics_url(profile, "http://127.0.0.1:26001")
    assert moved == "http://127.0.0.1:26001/metrics"


def test_every_module_the_shipped_experiments_inject_faults_with_is_a_fault_module() -> None:
    """A fault's window is attributed to its experiment by the names these modules return
    (a game day's score); a module missing here leaves its windows unjudged."""
    modules = {
        activity["provider"]["module"]
        for path in (PROJECT_ROOT / "experiments").glob("*.json")
        for activity in json.loads(path.read_text())["method"]
        if activity["type"] == "action"
    }
    assert {m for m in modules if m.startswith("gameday.")} <= set(FAULT_MODULES)
