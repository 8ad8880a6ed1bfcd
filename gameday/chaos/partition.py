"""Two-way network partitions between the nodes of the stack's search cluster
(`stack up --search-nodes N`), as iptables DROP rules in a chain of our own.

    partition_nodes([1])      # node-1 | node-0, node-2: no transport message either way
    heal_partition([1])       # the chain flushed: every node reaches every other again

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
crosses; healing flushes it, and so does the run's last-resort reset
(gameday.chaos.experiment_sidecar), where a rule still in place afterwards fails the
run (`LeftoverFaults`), as a leftover toxic does.
"""

from __future__ import annotations

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
    "heal_all_partitions",
    "heal_partition",
    "leftover_partitions",
    "partition_nodes",
    "partition_rules",
]

CHAIN = "GAMEDAY-PARTITION"


class PartitionError(StackError):
    """iptables is missing or refused a rule (the message holds its exact error)."""


def _iptables(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
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


def _ensure_chain() -> None:
    if _iptables("-S", CHAIN, check=False).returncode != 0:
        _iptables("-N", CHAIN)
    if _iptables("-C", "OUTPUT", "-j", CHAIN, check=False).returncode != 0:
        _iptables("-I", "OUTPUT", "1", "-j", CHAIN)


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
                        f"gameday {node_name(sender)} -> {node_name(receiver)}",
                        "-j",
                        "DROP",
                    ]  # fmt: skip
                )
    return rules


def _cut_name(nodes: Sequence[int]) -> str:
    return "-".join(node_name(i) for i in sorted(set(nodes)))


def _stack_settings() -> StackSettings:
    from gameday.stack import recorded_settings  # the running topology (search_nodes)

    return recorded_settings(StackSettings())


def partition_nodes(nodes: list[int], configuration: Configuration | None = None) -> str:
    """Cut the search nodes `nodes` (0-based) from the others, both ways, until
    `heal_partition`: the fault `opensearch-partition-node-1` (say)."""
    run_dir = run_dir_of(configuration)
    settings = _stack_settings()
    rules = partition_rules(settings, nodes)
    _ensure_chain()
    try:
        for rule in rules:
            _iptables("-A", CHAIN, *rule)
    except PartitionError:
        heal_all_partitions()  # never half a partition
        raise
    name = PARTITION_FAULTS["partition"].name(cut=_cut_name(nodes))
    side, others = _cut_side(settings, nodes)
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


def heal_partition(nodes: list[int], configuration: Configuration | None = None) -> None:
    """Remove the partition (every rule of the chain) and record its end."""
    run_dir = run_dir_of(configuration)
    heal_all_partitions()
    run_dir.append_event(
        FaultRemoved(
            name=PARTITION_FAULTS["partition"].name(cut=_cut_name(nodes)), target="opensearch"
        )
    )


def heal_all_partitions() -> None:
    """Flush the chain (the last-resort reset); nothing to do when it does not exist."""
    if shutil.which("iptables") is None:
        return
    if _iptables("-S", CHAIN, check=False).returncode == 0:
        _iptables("-F", CHAIN)


def leftover_partitions() -> list[str]:
    """The partition rules in place, as `iptables -S` prints them ([] without the chain)."""
    if shutil.which("iptables") is None:
        return []
    listed = _iptables("-S", CHAIN, check=False)
    if listed.returncode != 0:
        return []
    return [f"partition: {line}" for line in listed.stdout.splitlines() if line.startswith("-A")]


# The partition fault, declared once: its provider and the rule its name follows (the
# cut side's node names, known once the arguments are checked).
PARTITION_FAULTS: dict[str, FaultRule] = {
    "partition": FaultRule(partition_nodes, "opensearch-partition-{cut}"),
}
