"""Faults and probes of the stack's RabbitMQ cluster (`stack up --rabbitmq-nodes 3`),
Chaos Toolkit python providers.

    partition_rabbitmq_node(0)          # node 0 | nodes 1, 2: no distribution either way
    heal_rabbitmq_partition(0)          # its rules deleted
    rabbitmq_node_rejoins(0, 30, ...)   # node 0 answers and is back in the queue's Raft group
    restart_rabbitmq_node_if_absent(0)  # a rollback: a node that did not come back is restarted
    sample_cluster("start", phase=...)  # outbox backlog, redeliveries, the queue's leader
    outbox_backlog_recovers(20, ...)    # back to its level before the fault 20 s after it

A partition is a pair of iptables DROP rules per node pair, on the nodes' own loopback
addresses (each node binds its distribution listener and its outgoing distribution
connections to 127.0.0.(13+i), gameday.stack.rabbitmq), so the address pair names both
directions; AMQP clients reach the nodes through Toxiproxy from 127.0.0.1 and are not
cut. The rules go in the chain GAMEDAY-PARTITION off OUTPUT, the one the search
cluster's partitions use (gameday.chaos.partition), so the run's last-resort reset and
its leftover check see them too; healing deletes only these rules.

Every sample is a `hypothesis_checked` event whose `phase` names the fault window
(`fault:rabbitmq-killed`): the report lists them under that experiment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from gameday import stack
from gameday.chaos.breakers import scrape
from gameday.chaos.configuration import metrics_url_of
from gameday.chaos.events import Configuration, run_dir_of
from gameday.chaos.fault_rule import FaultRule
from gameday.chaos.partition import CHAIN, ensure_chain, iptables  # one chain, one reset
from gameday.errors import ConfigError, StackError
from gameday.rundir import FaultInjected, FaultRemoved, HypothesisChecked
from gameday.settings import StackSettings
from gameday.stack import RABBITMQCTL
from gameday.stack import rabbitmq_ctl_env as ctl_env
from gameday.stack import rabbitmq_node_address as node_address
from gameday.stack import rabbitmq_node_answers as node_answers
from gameday.stack import rabbitmq_node_component as node_component
from gameday.stack import rabbitmq_node_erlang_name as node_erlang_name

__all__ = [
    "RABBITMQ_PARTITION_FAULTS",
    "heal_rabbitmq_partition",
    "leftover_rabbitmq_partitions",
    "outbox_backlog_before",
    "outbox_backlog_recovers",
    "partition_rabbitmq_node",
    "partition_rules",
    "queue_members",
    "rabbitmq_node_rejoins",
    "restart_rabbitmq_node_if_absent",
    "sample_cluster",
]

RABBITMQ_QUEUES = RABBITMQCTL.with_name("rabbitmq-queues")
REDELIVERED = "service_indexer_redelivered_messages_total{}"
SUPERSEDED = "service_indexer_superseded_events_total{}"
BACKLOG = "service_outbox_backlog{}"


def _settings() -> StackSettings:
    from gameday.stack import recorded_settings  # the running topology

    settings = recorded_settings(StackSettings())
    if settings.rabbitmq_nodes < 3:
        raise ConfigError(
            "this fault needs a RabbitMQ cluster: start the stack with "
            "`gameday stack up --rabbitmq-nodes 3`"
        )
    return settings


def _comment(settings: StackSettings, node: int) -> str:
    # names this stack's rules (its epmd port), so healing deletes exactly these
    return f"gameday rabbitmq {settings.epmd_port} cut {node_component(node)}"


def partition_rules(settings: StackSettings, node: int) -> list[list[str]]:
    """The rules (iptables arguments after `-A CHAIN`) that cut `node` from the others."""
    if not 0 <= node < settings.rabbitmq_nodes:
        raise ConfigError(
            f"node {node} is not one of 0..{settings.rabbitmq_nodes - 1} "
            f"(the stack has {settings.rabbitmq_nodes} RabbitMQ nodes)"
        )
    rules = []
    for other in range(settings.rabbitmq_nodes):
        if other == node:
            continue
        for src, dst in ((node, other), (other, node)):
            rules.append(
                [
                    "-s",
                    f"{node_address(src)}/32",
                    "-d",
                    f"{node_address(dst)}/32",
                    "-m",
                    "comment",
                    "--comment",
                    _comment(settings, node),
                    "-j",
                    "DROP",
                ]  # fmt: skip
            )
    return rules


def partition_rabbitmq_node(node: int = 0, configuration: Configuration | None = None) -> str:
    """Cut cluster node `node` from the others, both ways, until `heal_rabbitmq_partition`:
    the fault `rabbitmq-partition-rabbitmq` (node 0)."""
    run_dir = run_dir_of(configuration)
    settings = _settings()
    rules = partition_rules(settings, node)
    ensure_chain()
    try:
        for rule in rules:
            iptables("-A", CHAIN, *rule)
    except StackError:
        _delete_rules(settings, node)  # never half a partition
        raise
    name = RABBITMQ_PARTITION_FAULTS["partition"].name(cut=node_component(node))
    others = [node_component(i) for i in range(settings.rabbitmq_nodes) if i != node]
    run_dir.append_event(
        FaultInjected(
            name=name,
            target="rabbitmq",
            fault="partition",
            attributes={"cut": node_component(node), "from": others, "rules": len(rules)},
        )
    )
    return name


def _delete_rules(settings: StackSettings, node: int) -> None:
    for rule in partition_rules(settings, node):
        while iptables("-C", CHAIN, *rule, check=False).returncode == 0:
            iptables("-D", CHAIN, *rule)


def heal_rabbitmq_partition(node: int = 0, configuration: Configuration | None = None) -> None:
    """Delete the partition's rules (and only those) and record the fault's end."""
    run_dir = run_dir_of(configuration)
    settings = _settings()
    if iptables("-S", CHAIN, check=False).returncode == 0:
        _delete_rules(settings, node)
    run_dir.append_event(
        FaultRemoved(
            name=RABBITMQ_PARTITION_FAULTS["partition"].name(cut=node_component(node)),
            target="rabbitmq",
        )
    )


def leftover_rabbitmq_partitions() -> list[str]:
    """RabbitMQ partition rules still in place, as `iptables -S` prints them."""
    if shutil.which("iptables") is None:
        return []
    listed = iptables("-S", CHAIN, check=False)
    if listed.returncode != 0:
        return []
    return [line for line in listed.stdout.splitlines() if "gameday rabbitmq" in line]


def queue_members(
    queue: str = "documents.index", ask: int = 1, settings: StackSettings | None = None
) -> dict[str, str]:
    """The quorum queue's members and their Raft states (`leader`, `follower`, ...) as
    node `ask` sees them: component name -> state; {} when that node does not answer."""
    settings = settings or _settings()
    try:
        done = subprocess.run(
            [
                str(RABBITMQ_QUEUES),
                "--longnames",
                "-n",
                node_erlang_name(ask),
                "quorum_status",
                queue,
                "--formatter",
                "json",
            ],  # fmt: skip
            env={**os.environ, **ctl_env(settings, ask)},
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {}
    if done.returncode != 0:
        return {}
    names = {node_erlang_name(i): node_component(i) for i in range(settings.rabbitmq_nodes)}
    rows = json.loads(done.stdout or "[]")
    return {names.get(r["Node Name"], r["Node Name"]): str(r["Raft State"]) for r in rows}


REJOINED_STATES = ("leader", "follower")


def _rejoined(settings: StackSettings, node: int, queue: str) -> bool:
    if not node_answers(settings, node):
        return False
    ask = next(i for i in range(settings.rabbitmq_nodes) if i != node)
    return queue_members(queue, ask, settings).get(node_component(node)) in REJOINED_STATES


def rabbitmq_node_rejoins(
    node: int = 0,
    within_s: float = 60.0,
    phase: str = "",
    queue: str = "documents.index",
    every_s: float = 1.0,
    configuration: Configuration | None = None,
) -> bool:
    """Waits, from now (the heal), until node `node` answers AMQP again and another node
    names it a member of the queue's Raft group (pause_minority restarts the cut node's
    broker once it sees the majority), at most `within_s` seconds. Recorded with `took_s`
    (None when it never did): the run's nothing-left-behind check follows it."""
    run_dir = run_dir_of(configuration)
    settings = _settings()
    started = time.monotonic()
    deadline = started + float(within_s)
    while not (ok := _rejoined(settings, node, queue)) and time.monotonic() < deadline:
        time.sleep(float(every_s))
    took_s = round(time.monotonic() - started, 2)
    run_dir.append_event(
        HypothesisChecked(
            phase=phase,
            probe="rabbitmq_node_rejoined",
            ok=ok,
            value={
                "node": node_component(node),
                "took_s": took_s if ok else None,
                "within_s": float(within_s),
            },
        )
    )
    return ok


def restart_rabbitmq_node_if_absent(
    node: int = 0, configuration: Configuration | None = None
) -> bool:
    """A rollback, so that the run leaves the cluster whole: when node `node` does not
    answer AMQP (a paused minority node that did not recover after the heal), stop and
    start it with `stack down/up`, which waits until it is healthy. Recorded as a
    `rabbitmq_node_restarted` check (answering again or not); nothing is recorded when
    the node answers. Whether it came back by itself is the `rabbitmq_node_rejoined`
    check's finding, not this one's."""
    settings = _settings()
    if node_answers(settings, node):
        return False
    run_dir = run_dir_of(configuration)
    started = time.monotonic()
    only = [node_component(node)]
    stack.down(settings, lambda line: None, only=only)
    stack.up(settings, lambda line: None, only=only)  # waits for its health check
    ok = node_answers(settings, node)
    run_dir.append_event(
        HypothesisChecked(
            probe="rabbitmq_node_restarted",
            ok=ok,
            value={"node": node_component(node), "took_s": round(time.monotonic() - started, 2)},
        )
    )
    return True


def _leader(members: dict[str, str]) -> str | None:
    return next((name for name, state in members.items() if state == "leader"), None)


def _metrics(configuration: Configuration | None) -> dict[str, float]:
    samples: dict[str, float] = {}
    for name, labels, value in scrape(metrics_url_of(configuration)):
        text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        samples[f"{name}{{{text}}}"] = value
    return samples


def sample_cluster(
    moment: str,
    phase: str = "",
    queue: str = "documents.index",
    majority_of: int | None = None,
    judge_leader: bool = True,
    with_leader: bool = True,
    configuration: Configuration | None = None,
) -> dict[str, Any]:
    """The outbox backlog, the indexer's redelivered-message and superseded-event counters
    (the service's /metrics) and the queue's leader, recorded as one event. With
    `majority_of` (the cut node), the leader is asked of the other nodes only, and with
    `judge_leader` the event's `ok` says whether it is one of them (the leader stays on
    the majority side; right after the cut they may still name the old one). Without
    `with_leader`, the counters alone (each `rabbitmq-queues` call costs a second or two
    of CPU: the sample at a fault's start must not delay the checks after it)."""
    run_dir = run_dir_of(configuration)
    settings = _settings()
    samples = _metrics(configuration)
    asked = [i for i in range(settings.rabbitmq_nodes) if i != majority_of]
    if not with_leader:
        asked = []
    views = {node_component(i): queue_members(queue, i, settings) for i in asked}
    leaders = {name: _leader(members) for name, members in views.items() if members}
    value: dict[str, Any] = {
        "moment": moment,
        "outbox_backlog": samples.get(BACKLOG),
        "redelivered_messages": samples.get(REDELIVERED, 0.0),
        "superseded_events": samples.get(SUPERSEDED, 0.0),
        "leaders": leaders,  # as each answering node names it
    }
    ok = True
    if majority_of is not None and judge_leader and with_leader:
        majority = {node_component(i) for i in asked}
        named = set(leaders.values())
        ok = bool(leaders) and named <= majority
        value["majority"] = sorted(majority)
        value["leader_on_majority"] = ok
    run_dir.append_event(
        HypothesisChecked(phase=phase, probe="rabbitmq_cluster_sample", ok=ok, value=value)
    )
    return value


BACKLOG_SLACK = 5  # rows: half a second of writes at 10 rps, the relay's own jitter


def outbox_backlog_recovers(
    within_s: float,
    phase: str = "",
    every_s: float = 0.5,
    configuration: Configuration | None = None,
) -> bool:
    """Watches the outbox backlog for `within_s` seconds from now (the fault's start) and
    answers whether it ends them back at its level before the fault (the `before` sample,
    plus BACKLOG_SLACK rows): the relay found a live broker. Recorded with the largest
    backlog seen and `took_s`, the last moment it was above that level (0: never)."""
    run_dir = run_dir_of(configuration)
    level = _baseline(run_dir.path, phase) + BACKLOG_SLACK
    started = time.monotonic()
    deadline = started + float(within_s)
    backlog: float | None = None
    largest = 0.0
    last_above_s = 0.0
    while True:
        backlog = _metrics(configuration).get(BACKLOG)
        now_s = time.monotonic() - started
        if backlog is None or backlog > level:
            last_above_s = now_s
        largest = max(largest, backlog or 0.0)
        if time.monotonic() >= deadline:
            break
        time.sleep(float(every_s))
    ok = backlog is not None and backlog <= level
    run_dir.append_event(
        HypothesisChecked(
            phase=phase,
            probe="outbox_backlog_recovers",
            ok=ok,
            value={
                "level": level,
                "backlog": backlog,
                "largest": largest,
                "took_s": round(last_above_s, 2) if ok else None,
                "within_s": float(within_s),
            },
        )
    )
    return ok


def outbox_backlog_before(
    phase: str = "", window_s: float = 2.0, configuration: Configuration | None = None
) -> float:
    """The largest outbox backlog over `window_s` seconds (0.25 s apart), recorded: the
    level `outbox_backlog_recovers` waits for."""
    run_dir = run_dir_of(configuration)
    values = []
    deadline = time.monotonic() + float(window_s)
    while True:
        values.append(_metrics(configuration).get(BACKLOG) or 0.0)
        if time.monotonic() >= deadline:
            break
        time.sleep(0.25)
    level = max(values)
    run_dir.append_event(
        HypothesisChecked(
            phase=phase, probe="outbox_backlog_before", ok=True, value={"level": level}
        )
    )
    return level


def _baseline(run_path: Path, phase: str) -> float:
    events = run_path / "events.jsonl"
    level = None
    if events.exists():
        for line in events.read_text().splitlines():
            event = json.loads(line)
            if event.get("probe") == "outbox_backlog_before" and event.get("phase") == phase:
                level = float(event["value"]["level"])
    if level is None:
        raise ConfigError(
            f"no outbox_backlog_before sample with phase {phase!r} before "
            "outbox_backlog_recovers: add one to the method before the fault"
        )
    return level


# The partition fault, declared once: its provider and the rule its name follows.
RABBITMQ_PARTITION_FAULTS: dict[str, FaultRule] = {
    "partition": FaultRule(partition_rabbitmq_node, "rabbitmq-partition-{cut}"),
}
