"""What a watch of the search cluster concludes from the nodes' answers (no servers)."""

from __future__ import annotations

from gameday.chaos.search_cluster import ClusterWatch, NodeView

ALL = frozenset({"node-0", "node-1", "node-2"})
MAJORITY = frozenset({"node-0", "node-1"})
SILENT = NodeView(manager=None, members=frozenset())


def _watch(*checks: dict[str, NodeView]) -> ClusterWatch:
    return ClusterWatch(started=0.0, checks=[(float(i), c) for i, c in enumerate(checks)])


def test_two_nodes_naming_two_managers_is_a_split_brain_check_and_none_named_is_not() -> None:
    watch = _watch(
        {"node-0": NodeView("node-2", ALL), "node-1": NodeView("node-2", ALL), "node-2": SILENT},
        {"node-0": NodeView("node-0", MAJORITY), "node-2": NodeView("node-2", ALL)},
    )
    assert watch.split_brain_checks == [(1.0, {"node-0": "node-0", "node-2": "node-2"})]


def test_a_node_is_dropped_once_every_other_answering_node_stops_listing_it() -> None:
    watch = _watch(
        {"node-0": NodeView("node-0", ALL), "node-1": SILENT, "node-2": SILENT},
        {"node-0": NodeView("node-0", MAJORITY), "node-1": NodeView("node-0", ALL)},
        {"node-0": NodeView("node-0", MAJORITY), "node-1": NodeView("node-0", MAJORITY)},
    )
    assert watch.first_dropped_s("node-2") == 2.0
    # silent nodes say nothing about membership: no answer is not a drop
    assert _watch({"node-0": SILENT, "node-1": SILENT}).first_dropped_s("node-2") is None


def test_the_cluster_is_whole_again_from_the_first_check_after_which_all_list_all() -> None:
    whole = {n: NodeView("node-0", ALL) for n in ALL}
    split = {**whole, "node-0": NodeView("node-0", MAJORITY)}
    assert _watch(whole, split, whole, whole).last_complete_s(3) == 2.0
    assert _watch(whole, split).last_complete_s(3) is None
