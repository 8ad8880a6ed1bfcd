"""The PostgreSQL replica in the harness's settings, component list and stack record,
and the service's read order over its nodes (pure logic, no servers)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from gameday.settings import EPHEMERAL_PORTS, StackSettings
from gameday.stack import supervisor
from gameday.stack.registry import build_components
from gameday.stack.service_env import service_env
from service.deps.postgres_router import Node, NodeState, PostgresRouter
from service.settings import PostgresSettings


def test_the_replica_ports_are_outside_the_ephemeral_range_and_collide_with_no_other() -> None:
    settings = StackSettings()
    ports = [v for k, v in settings.model_dump().items() if k.endswith("_port")]
    assert settings.postgres_replica_port not in EPHEMERAL_PORTS
    assert settings.postgres_replica_proxy_port not in EPHEMERAL_PORTS
    assert len(ports) == len(set(ports))


def test_the_replica_is_a_component_only_with_pg_replica() -> None:
    assert "postgres-replica" not in [c.name for c in build_components(StackSettings())]
    names = [c.name for c in build_components(StackSettings(pg_replica=True))]
    assert names.index("postgres-replica") == names.index("postgres") + 1


def test_the_stack_record_remembers_the_replica(tmp_path: Path) -> None:
    settings = StackSettings(state_dir=tmp_path, pg_replica=True)
    supervisor._write_record(settings, ["postgres", "postgres-replica"])
    assert supervisor.recorded_settings(StackSettings(state_dir=tmp_path)).pg_replica is True


def test_the_service_is_given_the_replica_dsn_only_when_the_stack_has_one() -> None:
    assert service_env(StackSettings())["SERVICE_POSTGRES_REPLICA_DSNS"] == ""
    dsn = service_env(StackSettings(pg_replica=True))["SERVICE_POSTGRES_REPLICA_DSNS"]
    assert dsn.endswith("@127.0.0.1:22433/gameday")


def _node(name: str, role: Any, down_for_s: float = 0.0) -> Node:
    pool: Any = object()  # read_order never touches the pool
    return Node(
        name=name, dsn=f"postgresql://{name}", pool=pool, role=role,
        down_until=time.monotonic() + down_for_s,
    )  # fmt: skip


def test_reads_prefer_a_live_standby_then_the_primary_and_never_a_fenced_node() -> None:
    primary = _node("p", "primary")
    live, down, fenced = _node("a", "standby"), _node("b", "standby", 60), _node("c", "fenced")
    router = PostgresRouter(
        nodes=[primary, live, down, fenced], primary_node=primary, settings=PostgresSettings()
    )
    assert [n.name for n in router.read_order()] == ["a", "p", "b"]


def _roles(monkeypatch: Any, roles: dict[str, tuple[Any, int]]) -> None:
    """What each node answers to the role check this round (no servers)."""

    async def role_of(dsn: str) -> NodeState:
        role, timeline = roles[dsn.removeprefix("postgresql://")]
        return NodeState(role, timeline)

    monkeypatch.setattr("service.deps.postgres_router._role_of", role_of)


def test_the_primary_follows_a_promotion_and_never_moves_back_to_an_older_timeline(
    monkeypatch: Any,
) -> None:
    import asyncio

    old, replica = _node("old", "primary"), _node("new", "standby")
    router = PostgresRouter(
        nodes=[old, replica], primary_node=old, settings=PostgresSettings(), primary_timeline=1
    )
    switches: list[tuple[str, str]] = []
    router.on_switch.append(lambda a, b: switches.append((a, b)))
    # the primary is away, the replica promoted: a new timeline
    _roles(monkeypatch, {"old": ("unknown", 0), "new": ("primary", 2)})
    asyncio.run(router.redetect())
    assert router.primary_node is replica and old.role == "fenced"
    # the old primary is back and still takes writes; the promoted node missed this check
    _roles(monkeypatch, {"old": ("primary", 1), "new": ("unknown", 0)})
    asyncio.run(router.redetect())
    # both answer: the newest timeline is the one already followed
    _roles(monkeypatch, {"old": ("primary", 1), "new": ("primary", 2)})
    asyncio.run(router.redetect())
    assert router.primary_node is replica and old.role == "fenced"
    assert switches == [("old", "new")]
