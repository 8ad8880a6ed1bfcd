"""Before any load of a run with experiments: the profile's Prometheus and the alerts
`detect_within` names. A Prometheus that does not answer refuses the run only when an
objective needs it; otherwise the run goes on without watching alerts, and says so.
(Against a real Prometheus: tests/e2e/alerts/test_detection.py.)"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from gameday.app import RunPlan, build_plan
from gameday.app.target import check_alerts
from gameday.chaos.experiment import load_experiment
from gameday.chaos.suite import suite_of
from gameday.errors import ConfigError
from gameday.settings import PROJECT_ROOT
from gameday.slo import parse_slo
from gameday.target import TargetProfile, parse_profile

NEEDS_DETECTION = "experiments:\n  opensearch-down:\n    detect_within: {BreakerOpen: 60s}\n"


def _nowhere() -> str:
    with socket.socket() as sock:  # bound then freed: nothing listens there now
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def _profile(alerts: str | None) -> TargetProfile:
    text = (
        "name: shop\nbase_url: http://127.0.0.1:9\n"
        "traffic: {locustfile: l.py, mixes: {default: {U: 1}}}\n"
    )
    if alerts is not None:
        text += f"alerts: {{prometheus_url: {alerts}}}\n"
    return parse_profile(text, name="shop.yaml")


def _plan(profile: TargetProfile, slo: str, *, experiments: bool = True) -> RunPlan:
    suite = suite_of([load_experiment(PROJECT_ROOT / "experiments" / "opensearch-down.json")])
    return build_plan(
        scenario=None, shape=None, rate=10.0, users=None, spawn_rate=None, duration="30s",
        workers=0, tenants=1, seed=1, out=None, via_proxy=False, target=None,
        suite=suite if experiments else None, experiment_source=None,
        slo_path=Path("slo.yaml"), slo_file=parse_slo(slo), rpo_grace="10s", profile=profile,
    )  # fmt: skip


def test_an_unreachable_prometheus_no_objective_needs_is_a_warning_and_no_watching() -> None:
    url = _nowhere()
    plan, warning = check_alerts(_plan(_profile(url), ""))
    assert plan.profile.alerts is None
    assert warning is not None and f"Prometheus at {url} unreachable" in warning


def test_an_unreachable_prometheus_detect_within_needs_refuses_the_run_in_one_line() -> None:
    url = _nowhere()
    with pytest.raises(ConfigError) as caught:
        check_alerts(_plan(_profile(url), NEEDS_DETECTION))
    message = str(caught.value)
    assert f"Prometheus at {url} unreachable" in message and "detect_within" in message
    assert "\n" not in message


def test_detect_within_without_alerts_in_the_profile_is_refused_naming_the_fix() -> None:
    with pytest.raises(ConfigError, match=r"has no alerts: add `alerts: \{prometheus_url: URL\}`"):
        check_alerts(_plan(_profile(None), NEEDS_DETECTION))


def test_without_experiments_nothing_is_checked() -> None:
    plan = _plan(_profile(_nowhere()), NEEDS_DETECTION, experiments=False)
    assert check_alerts(plan) == (plan, None)
