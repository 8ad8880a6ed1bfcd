"""`promtool test rules` on both `for:` sets of deploy/prometheus/rules.yml: for every
alert, synthetic series in breach make it pending (not firing) just before its `for:`,
firing after it, and resolved once the series are back to normal."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from gameday.stack.prometheus import LOCAL_FOR, RULES_SOURCE, SCRAPE_INTERVAL_S, local_rules
from tests.unit.alerts.synthetic import STEP_S, SYNTHETIC

# How often each set is evaluated here: the local set as often as the stack's
# Prometheus evaluates it (SCRAPE_INTERVAL_S, 1 s), the production one every 5 s.
EVALUATION_S = {"production": 5, "local": SCRAPE_INTERVAL_S}
RATE_WINDOW_S = 60  # the rules' rate(...[1m]): a breach shows within one window


def _seconds(duration: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600}
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", duration)
    assert parts and duration, f"unexpected for: {duration!r}"
    return sum(
        int(v or 0) * u
        for v, u in zip(parts.groups(), (units["h"], units["m"], units["s"]), strict=True)
    )


def _rule_sets() -> dict[str, dict[str, Any]]:
    return {"production": yaml.safe_load(RULES_SOURCE.read_text()), "local": local_rules()}


def _alerts(rules: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["alert"]: r for g in rules["groups"] for r in g["rules"] if "alert" in r}


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is not installed: run `make bootstrap` (Debian package prometheus)")
    return path


def _unit_test(alert: str, for_s: int, evaluation_s: int) -> dict[str, Any]:
    build, labels, summary = SYNTHETIC[alert]
    bad_s = for_s + 2 * RATE_WINDOW_S + 60
    bad, good = bad_s // STEP_S, (2 * RATE_WINDOW_S + 60) // STEP_S
    start = STEP_S  # sample 0 is normal, the breach starts with sample 1
    end = start + bad * STEP_S
    runbook = f"docs/alerts.md#{alert.lower()}"
    expected = [{"exp_labels": labels, "exp_annotations": {"summary": summary, "runbook": runbook}}]
    return {
        "interval": f"{STEP_S}s",
        "input_series": build(bad, good),
        "alert_rule_test": [
            {"eval_time": "0s", "alertname": alert, "exp_alerts": []},
            # still pending one evaluation before its for: has run out
            {"eval_time": f"{start + for_s - evaluation_s}s", "alertname": alert, "exp_alerts": []},
            {
                "eval_time": f"{start + for_s + RATE_WINDOW_S}s",
                "alertname": alert,
                "exp_alerts": expected,
            },
            {"eval_time": f"{end - STEP_S}s", "alertname": alert, "exp_alerts": expected},
            {
                "eval_time": f"{end + RATE_WINDOW_S + 2 * STEP_S}s",
                "alertname": alert,
                "exp_alerts": [],
            },
        ],
    }


CASES = [(name, alert) for name, rules in _rule_sets().items() for alert in _alerts(rules)]


@pytest.mark.parametrize(("rule_set", "alert"), CASES, ids=[f"{s}-{a}" for s, a in CASES])
def test_each_alert_fires_after_its_for_and_resolves(
    rule_set: str, alert: str, tmp_path: Path
) -> None:
    rules = _rule_sets()[rule_set]
    for_s = _seconds(_alerts(rules)[alert]["for"])
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules, sort_keys=False))
    tests = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": f"{EVALUATION_S[rule_set]}s",
        "tests": [_unit_test(alert, for_s, EVALUATION_S[rule_set])],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    result = subprocess.run(
        [_promtool(), "test", "rules", "test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_synthetic_series_and_both_for_values() -> None:
    production = _alerts(_rule_sets()["production"])
    local_for = yaml.safe_load(LOCAL_FOR.read_text())
    assert set(production) == set(SYNTHETIC) == set(local_for)
    for alert, rule in production.items():
        assert _seconds(local_for[alert]) < _seconds(rule["for"]), alert
        assert rule["annotations"]["runbook"].startswith("docs/alerts.md#"), alert


def test_a_breach_shorter_than_for_never_fires(tmp_path: Path) -> None:
    """The synthetic case can fail: BreakerOpen in breach for less than its for: stays silent."""
    rules = local_rules()
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules, sort_keys=False))
    build, _, _ = SYNTHETIC["BreakerOpen"]
    for_s = _seconds(_alerts(rules)["BreakerOpen"]["for"])
    tests = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": f"{EVALUATION_S['local']}s",
        "tests": [
            {
                "interval": f"{STEP_S}s",
                "input_series": build(max(1, for_s // STEP_S - 1), 30),
                "alert_rule_test": [
                    {"eval_time": f"{t}s", "alertname": "BreakerOpen", "exp_alerts": []}
                    for t in range(0, 300, EVALUATION_S["local"])
                ],
            }
        ],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    result = subprocess.run(
        [_promtool(), "test", "rules", "test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
