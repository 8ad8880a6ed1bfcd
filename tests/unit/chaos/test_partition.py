"""The partition's rules, without iptables: which packets each cut drops."""

from __future__ import annotations

import pytest

from gameday.chaos.partition import partition_rules
from gameday.errors import ConfigError
from gameday.settings import StackSettings


def _drops(rule: list[str]) -> tuple[str, str, str]:
    """(sender gid, receiver address, receiver port) of one DROP rule."""
    return (
        rule[rule.index("--gid-owner") + 1],
        rule[rule.index("-d") + 1],
        rule[rule.index("--dport") + 1],
    )


def test_cutting_one_node_of_three_drops_its_transport_traffic_both_ways() -> None:
    settings = StackSettings(search_nodes=3, opensearch_transport_port=23300)
    rules = partition_rules(settings, [1])
    assert all(r[-2:] == ["-j", "DROP"] for r in rules)
    assert {_drops(r) for r in rules} == {
        ("23301", "127.0.0.2/32", "23300"),  # node-1 -> node-0
        ("23300", "127.0.0.3/32", "23301"),  # node-0 -> node-1
        ("23301", "127.0.0.4/32", "23302"),  # node-1 -> node-2
        ("23302", "127.0.0.3/32", "23301"),  # node-2 -> node-1
    }


def test_the_nodes_on_the_same_side_still_reach_each_other() -> None:
    settings = StackSettings(search_nodes=3, opensearch_transport_port=23300)
    pairs = {_drops(r) for r in partition_rules(settings, [0, 2])}
    assert ("23300", "127.0.0.4/32", "23302") not in pairs
    assert ("23302", "127.0.0.2/32", "23300") not in pairs
    assert len(pairs) == 4


@pytest.mark.parametrize(
    ("nodes", "search_nodes", "expected"),
    [
        ([0, 1, 2], 3, "must be some, not all, of 0..2"),
        ([3], 3, "must be some, not all, of 0..2"),
        ([], 3, "must be some, not all, of 0..2"),
        ([0], 1, "--search-nodes 3"),
    ],
    ids=["all-nodes", "no-such-node", "no-node", "single-node-stack"],
)
def test_a_partition_that_cuts_nothing_is_a_one_line_error(
    nodes: list[int], search_nodes: int, expected: str
) -> None:
    with pytest.raises(ConfigError, match=expected):
        partition_rules(StackSettings(search_nodes=search_nodes), nodes)


def test_each_rule_names_its_stack_so_another_stacks_rules_are_left_alone() -> None:
    mine = StackSettings(search_nodes=3, opensearch_transport_port=23300)
    other = StackSettings(search_nodes=3, opensearch_transport_port=24300)
    comments = {r[r.index("--comment") + 1] for r in partition_rules(mine, [2])}
    assert all(c.startswith("gameday search 23300 ") for c in comments), comments
    assert not any(
        c.startswith("gameday search 23300 ")
        for r in partition_rules(other, [2])
        for c in [r[r.index("--comment") + 1]]
    )
