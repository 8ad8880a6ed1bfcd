"""`gameday stack up/status/down` end to end, as a user runs them, on a second
small stack with its own state dir and ports (so the session's stack is left
alone). OpenSearch is left out here: it is covered by the session stack."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gameday.stack import process

GAMEDAY = [sys.executable, "-m", "gameday.cli"]
SUBSET = "toxiproxy,postgres,redis,rabbitmq"
PORTS = {
    "GAMEDAY_TOXIPROXY_PORT": 24474,
    "GAMEDAY_POSTGRES_PORT": 24432,
    "GAMEDAY_POSTGRES_PROXY_PORT": 24442,
    "GAMEDAY_REDIS_PORT": 24379,
    "GAMEDAY_REDIS_PROXY_PORT": 24389,
    "GAMEDAY_RABBITMQ_PORT": 24672,
    "GAMEDAY_RABBITMQ_PROXY_PORT": 24682,
    "GAMEDAY_RABBITMQ_DIST_PORT": 24673,
    "GAMEDAY_EPMD_PORT": 24369,
    "GAMEDAY_OPENSEARCH_PORT": 24200,
    "GAMEDAY_OPENSEARCH_PROXY_PORT": 24210,
    "GAMEDAY_OPENSEARCH_TRANSPORT_PORT": 24300,
    "GAMEDAY_SERVICE_PORT": 24080,
    "GAMEDAY_API_PROXY_PORT": 24090,
}


def gameday(
    *args: str, env: dict[str, str], timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GAMEDAY, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture
def small_stack_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    state = tmp_path_factory.mktemp("state")
    env = {**os.environ, "GAMEDAY_STATE_DIR": str(state), **{k: str(v) for k, v in PORTS.items()}}
    yield env
    gameday("stack", "down", "--purge", env=env)


def _status(env: dict[str, str]) -> tuple[int, dict[str, dict[str, object]]]:
    result = gameday("stack", "status", "--json", env=env)
    components = json.loads(result.stdout)["components"]
    return result.returncode, {c["name"]: c for c in components}


def test_up_is_idempotent_status_sees_a_killed_component_and_down_leaves_no_process(
    small_stack_env: dict[str, str],
) -> None:
    env = small_stack_env
    first = gameday("stack", "up", "--only", SUBSET, env=env)
    assert first.returncode == 0, first.stderr
    assert "healthy in" in first.stdout and "stack up in" in first.stdout

    _, before = _status(env)
    pids = {name: c["pid"] for name, c in before.items() if c["pid"] is not None}
    assert set(pids) == set(SUBSET.split(","))
    for name in pids:
        assert before[name]["healthy"] is True
        assert before[name]["version"]
    assert before["redis"]["proxy_port"] == PORTS["GAMEDAY_REDIS_PROXY_PORT"]
    assert before["toxiproxy"]["proxy_port"] is None

    second = gameday("stack", "up", "--only", SUBSET, env=env)
    assert second.returncode == 0, second.stderr
    assert second.stdout.count("already running") == 4
    _, again = _status(env)
    assert {n: c["pid"] for n, c in again.items() if c["pid"]} == pids

    os.kill(int(pids["redis"]), signal.SIGKILL)
    code, killed = _status(env)
    assert code == 1
    assert killed["redis"]["healthy"] is False
    assert killed["postgres"]["healthy"] is True

    down = gameday("stack", "down", env=env)
    assert down.returncode == 0, down.stderr
    for name, pid in pids.items():
        assert not Path(f"/proc/{pid}").exists() or _is_zombie(int(pid)), name
        assert process.group_members(int(pid)) == [], name
    code, after = _status(env)
    assert code == 1
    assert all(c["healthy"] is False and c["pid"] is None for c in after.values())


def _is_zombie(pid: int) -> bool:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2] == "Z"


def test_a_port_in_use_is_a_one_line_error_with_exit_2(small_stack_env: dict[str, str]) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", PORTS["GAMEDAY_REDIS_PORT"]))
        squatter.listen()
        result = gameday("stack", "up", "--only", "redis", env=small_stack_env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"port {PORTS['GAMEDAY_REDIS_PORT']}" in lines[0] and "already in use" in lines[0]


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("GAMEDAY_REDIS_PORT", "40000", "ephemeral range"),
        ("GAMEDAY_SEARCH_NODES", "0", "search_nodes"),
    ],
    ids=["port-in-ephemeral-range", "zero-search-nodes"],
)
def test_a_bad_setting_is_a_one_line_error_with_exit_2(
    small_stack_env: dict[str, str], variable: str, value: str, expected: str
) -> None:
    result = gameday("stack", "status", env={**small_stack_env, variable: value})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
