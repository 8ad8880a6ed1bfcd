"""`gameday init` as a new user runs it, against a service that is not ours (the cheap
target of tests/integration/load, its own process) and a private toxiproxy-server on a
free port in 25000-25999 (never the stack's): init, then `gameday proxies apply`, then
traffic through the proxy it created. No stack needed; the toxiproxy-server binary is
the one `gameday stack install` builds (`make test` runs it first)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gameday.target import load_profile
from gameday.toxiproxy import ToxiproxyClient
from tests.integration.load.cheap_target import serving
from tests.ports import describe, private_ports
from tests.toxiproxy_server import private_toxiproxy_server

ROOT = Path(__file__).resolve().parents[3]
GAMEDAY = [sys.executable, "-m", "gameday.cli"]
PRIVATE_PORTS = private_ports()


def _gameday(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GAMEDAY, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def _free_port() -> int:
    for port in PRIVATE_PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port in {describe(PRIVATE_PORTS)}")


@pytest.fixture(scope="module")
def toxiproxy_url() -> Iterator[str]:
    port = _free_port()
    with private_toxiproxy_server(port) as url:
        yield url


@pytest.fixture(scope="module")
def service_url() -> Iterator[str]:
    with serving() as url:
        yield url


def test_init_then_proxies_apply_puts_the_named_dependency_behind_a_working_proxy(
    toxiproxy_url: str, service_url: str, tmp_path: Path
) -> None:
    # The dependency is the cheap target itself: traffic through the proxy must reach it.
    upstream = service_url.removeprefix("http://")
    folder = tmp_path / "starter"
    init = _gameday(
        "init",
        service_url,
        "--dependency",
        f"backend={upstream}",
        "--toxiproxy",
        toxiproxy_url,
        "--health",
        "/health",
        "--dir",
        str(folder),
    )
    assert init.returncode == 0, init.stdout + init.stderr
    profile_path = folder / "target.yaml"
    assert f"next: gameday proxies apply --profile {profile_path}" in init.stdout
    profile = load_profile(profile_path)
    listen = profile.dependencies["backend"].listen

    try:
        applied = _gameday("proxies", "apply", "--profile", str(profile_path))
        assert applied.returncode == 0, applied.stdout + applied.stderr
        assert f"backend      created   {listen} -> {upstream}" in applied.stdout
        status = _gameday("proxies", "status", "--profile", str(profile_path))
        assert status.returncode == 0, status.stdout + status.stderr

        answer = httpx.get(f"http://{listen}/health", timeout=5)
        assert answer.status_code == 200
        assert answer.json() == {"hits": [], "total": 0}
    finally:
        with ToxiproxyClient(toxiproxy_url) as client:  # this test's proxy only
            client.delete("backend")


def test_a_second_init_in_the_same_folder_is_one_line_exit_2_and_changes_nothing(
    tmp_path: Path,
) -> None:
    first = _gameday("init", "http://127.0.0.1:8080", "--dir", str(tmp_path))
    assert first.returncode == 0, first.stdout + first.stderr
    before = {p: p.read_text() for p in tmp_path.rglob("*") if p.is_file()}

    again = _gameday("init", "http://127.0.0.1:9090", "--dir", str(tmp_path))
    assert again.returncode == 2
    lines = again.stderr.strip().splitlines()
    assert len(lines) == 1, again.stderr
    assert f"{tmp_path / 'target.yaml'} already exists; gameday init never overwrites" in lines[0]
    assert again.stdout == ""
    assert {p: p.read_text() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_a_bad_url_is_one_line_exit_2_and_writes_nothing(tmp_path: Path) -> None:
    result = _gameday("init", "localhost:8080", "--dir", str(tmp_path / "none"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "URL 'localhost:8080' is not an http(s) URL with a host" in lines[0]
    assert "e.g. gameday init http://127.0.0.1:8080" in lines[0]
    assert not (tmp_path / "none").exists()


def test_init_then_run_with_the_profile_gives_a_verdict_with_no_stack_and_no_toxiproxy(
    service_url: str, tmp_path: Path
) -> None:
    nowhere = f"http://127.0.0.1:{_free_port()}"  # no Toxiproxy answers there
    folder = tmp_path / "starter"
    init = _gameday("init", service_url, "--toxiproxy", nowhere, "--dir", str(folder))
    assert init.returncode == 0, init.stdout + init.stderr
    profile = folder / "target.yaml"
    assert f"then: gameday run --profile {profile} --rate 20 --duration 1m" in init.stdout

    run_dir = tmp_path / "run"
    no_stack = {**os.environ, "GAMEDAY_STATE_DIR": str(tmp_path / "state")}
    no_stack.pop("GAMEDAY_PROFILE", None)
    result = _gameday(
        "run",
        "--profile",
        str(profile),
        "--rate",
        "20",
        "--duration",
        "10s",
        "--out",
        str(run_dir),
        env=no_stack,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("verdict PASS")
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["verdict"] == "pass"
    assert summary["run"]["scenario"] == "default"
    assert summary["overall"]["count"] == 200  # 20 rps x 10 s, open model
    assert summary["overall"]["error_rate_pct"] == 0.0
    # judged against the SLO file init wrote (the run keeps a copy)
    assert (run_dir / "slo.yaml").read_text() == (folder / "slo.yaml").read_text()
    assert set(summary["endpoints"]) == {"GET /"}


def test_the_latency_experiment_init_writes_runs_on_the_profiles_toxiproxy_and_leaves_no_toxic(
    toxiproxy_url: str, service_url: str, tmp_path: Path
) -> None:
    # The dependency is a second cheap target: the service never calls it, so the fault
    # changes no answer; what is asserted is the experiment's own mechanics.
    with serving() as dependency_url:
        upstream = dependency_url.removeprefix("http://")
        folder = tmp_path / "starter"
        init = _gameday(
            "init", service_url, "--dependency", f"backend={upstream}",
            "--toxiproxy", toxiproxy_url, "--dir", str(folder),
        )  # fmt: skip
        assert init.returncode == 0, init.stdout + init.stderr
        profile = folder / "target.yaml"
        try:
            applied = _gameday("proxies", "apply", "--profile", str(profile))
            assert applied.returncode == 0, applied.stdout + applied.stderr
            run_dir = tmp_path / "run"
            result = _gameday(
                "run", "--profile", str(profile), "--rate", "20",
                "--experiment", str(folder / "experiments" / "backend-latency.json"),
                "--var", "fault_s=5", "--out", str(run_dir),
            )  # fmt: skip
            with ToxiproxyClient(toxiproxy_url) as client:
                left = client.proxies()["backend"]
        finally:
            with ToxiproxyClient(toxiproxy_url) as client:  # this test's proxy only
                client.delete("backend")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "experiment backend-latency: PASS" in result.stdout
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    injected = [e for e in events if e["type"] == "fault_injected"]
    removed = [e for e in events if e["type"] == "fault_removed"]
    assert [(e["name"], e["target"]) for e in injected] == [
        ("backend-latency-300ms-downstream", "backend")
    ]
    assert [e["name"] for e in removed] == ["backend-latency-300ms-downstream"]
    assert left.toxics == [] and left.enabled
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["verdict"] == "pass"
    rto = [o for o in summary["objectives"] if o["name"].endswith("RTO")]
    assert [o["passed"] for o in rto] == [True]
