"""Two-way network partitions between the nodes of the stack's search cluster
(`stack up --search-nodes N`), as iptables DROP rules in a chain of our own.

    partition_nodes([1])      # node-1 | node-0, node-2: no transport message either way
    heal_partition([1])       # its rules deleted: every node reaches every other again

Each node binds its transport to its own loopback address and runs with its own group
id (gameday.stack.opensearch). The kernel gives an outgoing loopback connection the
source address 127.0.0.1 whichever node opens it, so a rule cannot name the sender by
address (`-s 127.0.0.2` never matches); it names it by its socket's group instead:

    -A GAMEDAY-PARTITION -p tcp -m owner --gid-owner <gid of A> -d <addr of B> --dport <B> -j DROP
    -A GAMEDAY-PARTITION -p tcp -m owner --gid-owner <gid of B> -d <addr of A> --dport <A> -j DROP

for every pair (A on the cut side, B on the other): neither node's connection attempts
nor the requests it sends on an open connection reach the other, in both directions
(OpenSearch sends requests only on connections its own node opened). Other stacks'
nodes (other group ids and ports) and every client connection (HTTP, through the
proxies) are left alone. The chain hangs off OUTPUT, which every loopback packet
crosses. Each rule's comment names its stack (`gameday search <transport port> ...`),
so healing deletes this stack's rules only, and so does the run's last-resort reset
(gameday.chaos.experiment_sidecar, which also deletes this stack's RabbitMQ rules,
`gameday rabbitmq <epmd port> ...`); a rule still in place afterwards fails the run
(`LeftoverFaults`), as a leftover toxic does. Another stack's rules (another test's
private cluster) are never touched.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Sequence

from gameday.chaos.events import Configuration, run_dir_of
from gameday.chaos.fault_rule import FaultRule
from gameday.errors import ConfigError, StackError
from gameday.rundir import FaultInjected, FaultRemoved
from gameday.settings import StackSettings
from gameday.stack import node_address, node_gid, node_name, node_transport_port

__all__ = [
    "CHAIN",
    "PARTITION_FAULTS",
    "PartitionError",
    "ensure_chain",
    "heal_all_partitions",
    "heal_partition",
    "iptables",
    "leftover_partitions",
    "partition_nodes",
    "partition_rules",
]

CHAIN = "GAMEDAY-PARTITION"


class PartitionError(StackError):
    """iptables is missing or refused a rule (the message holds its exact error)."""


def iptables(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("iptables")
    if binary is None:
        raise PartitionError("iptables is not installed: run `make bootstrap` (as root)")
    result = subprocess.run(
        [binary, "-w", *args], capture_output=True, text=True, timeout=30, check=False
    )
    if check and result.returncode != 0:
        raise PartitionError(
            f"`iptables {' '.join(args)}` exited {result.returncode}: "
            f"{(result.stderr or result.stdout).strip()}"
        )
    return result


def ensure_chain() -> None:
    if iptables("-S", CHAIN, check=False).returncode != 0:
        iptables("-N", CHAIN)
    if iptables("-C", "OUTPUT", "-j", CHAIN, check=False).returncode != 0:
        iptables("-I", "OUTPUT", "1", "-j", CHAIN)


def _cut_side(settings: StackSettings, nodes: Sequence[int]) -> tuple[list[int], list[int]]:
    n = settings.search_nodes
    side = sorted(set(nodes))
    if n < 2:
        raise ConfigError(
            "a partition needs a cluster: start the stack with `gameday stack up --search-nodes 3`"
        )
    if not side or any(not 0 <= i < n for i in side) or len(side) == n:
        raise ConfigError(
            f"partition nodes {list(nodes)} must be some, not all, of 0..{n - 1} "
            f"(the stack has {n} search nodes)"
        )
    return side, [i for i in range(n) if i not in side]


def partition_rules(settings: StackSettings, nodes: Sequence[int]) -> list[list[str]]:
    """The rules (iptables arguments after `-A CHAIN`) that cut `nodes` from the rest."""
    side, others = _cut_side(settings, nodes)
    rules = []
    for a in side:
        for b in others:
            for sender, receiver in ((a, b), (b, a)):
                rules.append(
                    [
                        "-p",
                        "tcp",
                        "-m",
                        "owner",
                        "--gid-owner",
                        str(node_gid(settings, sender)),
                        "-d",
                        f"{node_address(receiver)}/32",
                        "--dport",
                        str(node_transport_port(settings, receiver)),
                        "-m",
                        "comment",
                        "--comment",
                        f"{_search_tag(settings)}{node_name(sender)} -> {node_name(receiver)}",
                        "-j",
                        "DROP",
                    ]  # fmt: skip
                )
    return rules


MANAGER = "manager"  # `nodes`: the node elected cluster manager when the fault starts


def _cut_name(nodes: Sequence[int] | str) -> str:
    if isinstance(nodes, str):
        return MANAGER
    return "-".join(node_name(i) for i in sorted(set(nodes)))


def _stack_settings() -> StackSettings:
    from gameday.stack import recorded_settings  # the running topology (search_nodes)

    return recorded_settings(StackSettings())


def _resolve(settings: StackSettings, nodes: list[int] | str) -> list[int]:
    if isinstance(nodes, str):
        if nodes != MANAGER:
            raise ConfigError(f"partition nodes {nodes!r}: a list of node numbers or {MANAGER!r}")
        from gameday.chaos.search_cluster import elected_manager

        return [elected_manager(settings)]
    return list(nodes)


def partition_nodes(nodes: list[int] | str, configuration: Configuration | None = None) -> str:
    """Cut the search nodes `nodes` (0-based, or "manager": the elected cluster manager)
    from the others, both ways, until `heal_partition`: the fault
    `opensearch-partition-node-1` (say), `opensearch-partition-manager`."""
    run_dir = run_dir_of(configuration)
    settings = _stack_settings()
    side_nodes = _resolve(settings, nodes)
    rules = partition_rules(settings, side_nodes)
    ensure_chain()
    try:
        for rule in rules:
            iptables("-A", CHAIN, *rule)
    except PartitionError:
        heal_all_partitions(settings)  # never half a partition
        raise
    name = PARTITION_FAULTS["partition"].name(cut=_cut_name(nodes))
    side, others = _cut_side(settings, side_nodes)
    run_dir.append_event(
        FaultInjected(
            name=name,
            target="opensearch",
            fault="partition",
            attributes={
                "cut": [node_name(i) for i in side],
                "from": [node_name(i) for i in others],
                "rules": len(rules),
            },
        )
    )
    return name


def heal_partition(nodes: list[int] | str, configuration: Configuration | None = None) -> None:
    """Remove the partition (every search-node rule of this stack) and record its end."""
    run_dir = run_dir_of(configuration)
    settings = _stack_settings()
    for line in _stack_rules(settings):
        if _search_tag(settings) in line:
            iptables("-D", *shlex.split(line)[1:])
    run_dir.append_event(
        FaultRemoved(
            name=PARTITION_FAULTS["partition"].name(cut=_cut_name(nodes)), target="opensearch"
        )
    )


def _search_tag(settings: StackSettings) -> str:
    return f"gameday search {settings.opensearch_transport_port} "


def _stack_tags(settings: StackSettings) -> tuple[str, ...]:
    """The comments that name this stack's rules: its search nodes' (their transport
    port) and its RabbitMQ nodes' (gameday.chaos.rabbitmq_cluster: its epmd port).
    Another stack's rules (another test's private cluster) are never touched."""
    return (_search_tag(settings), f"gameday rabbitmq {settings.epmd_port} ")


def _stack_rules(settings: StackSettings) -> list[str]:
    if shutil.which("iptables") is None:
        return []
    listed = iptables("-S", CHAIN, check=False)
    if listed.returncode != 0:
        return []
    tags = _stack_tags(settings)
    return [
        line
        for line in listed.stdout.splitlines()
        if line.startswith("-A") and any(tag in line for tag in tags)
    ]


def heal_all_partitions(settings: StackSettings | None = None) -> None:
    """Delete every partition rule of this stack (the last-resort reset): its search
    nodes' and its RabbitMQ nodes'; nothing to do without the chain."""
    for line in _stack_rules(settings or _stack_settings()):
        iptables("-D", *shlex.split(line)[1:])


def leftover_partitions(settings: StackSettings | None = None) -> list[str]:
    """This stack's partition rules in place, as `iptables -S` prints them."""
    return [f"partition: {line}" for line in _stack_rules(settings or _stack_settings())]


# The partition fault, declared once: its provider and the rule its name follows (the
# cut side's node names, known once the arguments are checked).
PARTITION_FAULTS: dict[str, FaultRule] = {
    "partition": FaultRule(partition_nodes, "opensearch-partition-{cut}"),
}
