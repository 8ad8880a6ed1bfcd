"""The RabbitMQ cluster's partition rules (gameday.chaos.rabbitmq_cluster): both
directions of every pair across the cut, on the nodes' own addresses (pure logic)."""

from __future__ import annotations

import pytest

from gameday.chaos.rabbitmq_cluster import partition_rules
from gameday.errors import ConfigError
from gameday.settings import StackSettings


def _pairs(rules: list[list[str]]) -> list[tuple[str, str]]:
    return [(r[r.index("-s") + 1], r[r.index("-d") + 1]) for r in rules]


def test_cutting_node_0_drops_both_directions_to_each_other_node() -> None:
    rules = partition_rules(StackSettings(rabbitmq_nodes=3), 0)
    assert _pairs(rules) == [
        ("127.0.0.13/32", "127.0.0.14/32"),
        ("127.0.0.14/32", "127.0.0.13/32"),
        ("127.0.0.13/32", "127.0.0.15/32"),
        ("127.0.0.15/32", "127.0.0.13/32"),
    ]
    assert all(r[-2:] == ["-j", "DROP"] for r in rules)


def test_the_rules_name_this_stack_so_healing_deletes_only_them() -> None:
    ours = partition_rules(StackSettings(rabbitmq_nodes=3), 1)
    other = partition_rules(StackSettings(rabbitmq_nodes=3, epmd_port=23569), 1)
    assert "gameday rabbitmq 21369 cut rabbitmq-1" in ours[0]
    assert ours[0] != other[0]


@pytest.mark.parametrize("node", [-1, 3], ids=["negative", "beyond"])
def test_a_node_outside_the_cluster_is_refused(node: int) -> None:
    with pytest.raises(ConfigError, match=r"not one of 0\.\.2"):
        partition_rules(StackSettings(rabbitmq_nodes=3), node)
