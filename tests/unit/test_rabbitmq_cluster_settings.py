"""`stack up --rabbitmq-nodes 3` (issue 19): the count's bounds, the stack record, the
components and proxies a cluster has, and what the service is given (pure logic)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gameday.settings import StackSettings
from gameday.stack import supervisor
from gameday.stack.rabbitmq import RabbitMQ, node_address
from gameday.stack.registry import NAMES, build_components
from gameday.stack.service_env import service_env


def _rabbitmq_parts(settings: StackSettings) -> list[str]:
    return [c.name for c in build_components(settings, only=["rabbitmq"])]


def test_the_default_stack_has_one_broker_on_the_stack_host() -> None:
    settings = StackSettings()
    assert settings.rabbitmq_nodes == 1
    assert _rabbitmq_parts(settings) == ["rabbitmq"]
    (node,) = build_components(settings, only=["rabbitmq"])
    assert isinstance(node, RabbitMQ)
    assert [(p.name, p.listen, p.upstream) for p in node.proxies()] == [
        ("rabbitmq", "127.0.0.1:22672", "127.0.0.1:21672")
    ]
    assert node.listen_ports == [21672, 21673, 21369]


def test_three_nodes_are_three_brokers_each_on_its_own_address_behind_its_own_proxy() -> None:
    settings = StackSettings(rabbitmq_nodes=3)
    assert _rabbitmq_parts(settings) == ["rabbitmq-epmd", "rabbitmq", "rabbitmq-1", "rabbitmq-2"]
    nodes = [c for c in build_components(settings) if isinstance(c, RabbitMQ)]
    assert [(p.name, p.listen, p.upstream) for n in nodes for p in n.proxies()] == [
        ("rabbitmq", "127.0.0.1:22672", "127.0.0.13:21672"),
        ("rabbitmq-1", "127.0.0.1:22673", "127.0.0.14:21672"),
        ("rabbitmq-2", "127.0.0.1:22674", "127.0.0.15:21672"),
    ]
    assert [n.listen_ports for n in nodes] == [[21672, 21673], [21672, 21674], [21672, 21675]]
    assert [node_address(i) for i in range(3)] == ["127.0.0.13", "127.0.0.14", "127.0.0.15"]
    assert {"rabbitmq-1", "rabbitmq-2", "rabbitmq-epmd"} <= set(NAMES)


def test_a_cluster_node_runs_without_busy_waiting_schedulers() -> None:
    node = RabbitMQ(StackSettings(rabbitmq_nodes=3), 1)
    args = node.launch().env["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"]
    assert "+sbwt none" in args
    assert "{ip,{127,0,0,14}}" in args  # outgoing distribution from its own address


@pytest.mark.parametrize("nodes", [0, 2, 4, 6], ids=["zero", "two", "four", "six"])
def test_an_even_or_out_of_range_node_count_is_refused(nodes: int) -> None:
    with pytest.raises(ValueError, match="rabbitmq_nodes"):
        StackSettings(rabbitmq_nodes=nodes)


def test_the_stack_record_remembers_the_broker_count(tmp_path: Path) -> None:
    supervisor._write_record(StackSettings(state_dir=tmp_path, rabbitmq_nodes=3), ["rabbitmq"])
    assert supervisor.recorded_settings(StackSettings(state_dir=tmp_path)).rabbitmq_nodes == 3


def test_a_record_without_the_count_means_one_broker(tmp_path: Path) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "stack.json").write_text('{"search_nodes": 1}')
    assert supervisor.recorded_settings(StackSettings(state_dir=tmp_path)).rabbitmq_nodes == 1


def test_the_service_gets_every_broker_and_quorum_queues_only_on_a_cluster() -> None:
    single = service_env(StackSettings())
    assert single["SERVICE_AMQP_URLS"] == ""  # SERVICE_AMQP_URL alone, as before
    assert single["SERVICE_AMQP_QUEUE_TYPE"] == "classic"
    cluster = service_env(StackSettings(rabbitmq_nodes=3))
    assert cluster["SERVICE_AMQP_URLS"].split(",") == [
        f"amqp://gameday:gameday@127.0.0.1:{port}/" for port in (22672, 22673, 22674)
    ]
    assert cluster["SERVICE_AMQP_QUEUE_TYPE"] == "quorum"


def test_an_even_count_on_the_command_line_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gameday.cli", "stack", "up", "--rabbitmq-nodes", "2"],
        env={"GAMEDAY_STATE_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: invalid setting rabbitmq_nodes: Value error, 2 brokers: use 1, 3 or 5 "
        "(a quorum needs an odd count)"
    ]
