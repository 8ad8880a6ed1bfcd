"""Where the harness's live metrics endpoint listens, and that the stack's Prometheus
scrapes it beside the service, every second."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from gameday.settings import StackSettings
from gameday.stack.prometheus import Prometheus

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _default_port(monkeypatch: pytest.MonkeyPatch) -> None:
    # `make test` turns the endpoint off in its private lane (tests/lanes.py)
    monkeypatch.delenv("GAMEDAY_HARNESS_METRICS_PORT", raising=False)


def test_the_endpoint_listens_on_29091_unless_moved_or_turned_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert StackSettings().harness_metrics_port == 29091
    monkeypatch.setenv("GAMEDAY_HARNESS_METRICS_PORT", "19091")
    assert StackSettings().harness_metrics_port == 19091
    assert StackSettings(harness_metrics_port=0).harness_metrics_port == 0  # off


def test_an_ephemeral_metrics_port_is_rejected_like_every_stack_port() -> None:
    with pytest.raises(ValidationError, match="outside the kernel's ephemeral range"):
        StackSettings(harness_metrics_port=40000)


def test_prometheus_scrapes_the_service_and_the_harness_every_second() -> None:
    config = Prometheus(StackSettings()).scrape_config()
    assert config["global"] == {"scrape_interval": "1s", "evaluation_interval": "1s"}
    targets = {
        job["job_name"]: [t for c in job["static_configs"] for t in c["targets"]]
        for job in config["scrape_configs"]
    }
    assert targets == {"service": ["127.0.0.1:28080"], "gameday": ["127.0.0.1:29091"]}


def test_prometheus_follows_a_moved_endpoint_and_drops_a_turned_off_one() -> None:
    moved = Prometheus(StackSettings(harness_metrics_port=19091)).scrape_config()
    assert [j["static_configs"] for j in moved["scrape_configs"] if j["job_name"] == "gameday"] == [
        [{"targets": ["127.0.0.1:19091"]}]
    ]
    off = Prometheus(StackSettings(harness_metrics_port=0)).scrape_config()
    assert [j["job_name"] for j in off["scrape_configs"]] == ["service"]


def test_promtool_accepts_the_scrape_config(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed: run `make bootstrap` (Debian package prometheus)")
    config = Prometheus(StackSettings(state_dir=tmp_path)).scrape_config()
    config["rule_files"] = []  # the rules have their own promtool tests
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [promtool, "check", "config", str(tmp_path / "prometheus.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_ephemeral_metrics_port_flag_is_one_line_with_exit_2() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gameday.cli", "run", "--rate", "5", "--metrics-port", "40000"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: --metrics-port 40000: port 40000 must be in 1024-32767 or 61000-65535 "
        "(outside the kernel's ephemeral range 32768-60999); 0 turns the endpoint off"
    ]
