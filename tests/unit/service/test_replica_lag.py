"""service/deps/replica_lag.py: a standby's lag behind the primary from the primary's WAL
positions over time (the router's role checks) and the standby's replay position; and the
router putting it on its nodes and in the lag gauges (role checks answered by the test)."""

from __future__ import annotations

import asyncio
import math
from typing import Any, cast

from prometheus_client.parser import text_string_to_metric_families

from service import metrics
from service.deps.postgres_router import Node, NodeState, PostgresRouter
from service.deps.replica_lag import MAX_SAMPLES, ReplicaLag
from service.settings import PostgresSettings


def make_history(*samples: tuple[float, int]) -> ReplicaLag:
    lag = ReplicaLag()
    for at_s, lsn in samples:
        lag.saw_primary(lsn, at_s=at_s)
    return lag


def test_a_standby_that_replayed_the_primarys_last_position_is_not_behind() -> None:
    lag = make_history((0.0, 100), (2.0, 200))
    assert lag.seconds_behind(200, now_s=60.0) == 0.0
    assert lag.bytes_behind(200) == 0


def test_an_idle_primary_keeps_a_caught_up_standby_at_zero_however_long_it_is_quiet() -> None:
    """The standby-only formula (now - last replayed commit) would read an hour here."""
    lag = make_history(*((float(t), 500) for t in range(0, 3600, 2)))
    assert lag.seconds_behind(500, now_s=3600.0) == 0.0


def test_behind_counts_from_the_first_check_that_saw_the_primary_past_the_standby() -> None:
    lag = make_history((0.0, 100), (2.0, 200), (4.0, 300), (6.0, 400))
    # replayed 200 (the position seen at 2 s): the primary was first seen past it at 4 s
    assert lag.seconds_behind(200, now_s=10.0) == 6.0
    assert lag.bytes_behind(200) == 200
    # between two positions: the first one past it counts
    assert lag.seconds_behind(250, now_s=10.0) == 6.0
    assert lag.seconds_behind(99, now_s=10.0) == 10.0


def test_a_standby_that_stopped_receiving_falls_further_behind_with_every_write() -> None:
    """Receive and replay both stuck (the nodes partitioned): the lag still grows."""
    lag = make_history((0.0, 100))
    for t in range(2, 21, 2):
        lag.saw_primary(100 + t, at_s=float(t))
    assert [lag.seconds_behind(100, now_s=float(now)) for now in (20, 30)] == [18.0, 28.0]


def test_a_repeated_position_keeps_the_time_it_was_first_seen() -> None:
    lag = make_history((0.0, 100), (2.0, 200), (4.0, 200), (6.0, 200))
    assert lag.seconds_behind(100, now_s=8.0) == 6.0


def test_a_new_primary_starts_a_new_history() -> None:
    lag = make_history((0.0, 100), (2.0, 900))
    lag.saw_primary(500, at_s=10.0)  # lower than before: not the same WAL
    assert lag.seconds_behind(500, now_s=12.0) == 0.0
    assert lag.seconds_behind(400, now_s=12.0) == 2.0
    lag.reset()
    assert lag.seconds_behind(0, now_s=12.0) == 0.0 and lag.bytes_behind(0) == 0


def test_the_history_is_bounded_and_an_older_standby_reads_behind_since_the_oldest_kept() -> None:
    lag = make_history(*((float(i), i) for i in range(1, MAX_SAMPLES + 101)))
    # positions 1..100 were dropped; the oldest kept is position 101, seen at 101 s
    assert lag.seconds_behind(0, now_s=10_000.0) == 10_000.0 - 101.0


class Clock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def make_router(monkeypatch: Any, *names: str) -> tuple[PostgresRouter, Clock, RoleAnswers]:
    """A router over `names` (the first one the primary) whose role checks answer what
    the test puts in the returned dict (no servers), on a clock the test moves."""
    nodes = [
        Node(name=n, dsn=f"postgresql://{n}", pool=cast(Any, None), role="standby") for n in names
    ]
    nodes[0].role = "primary"
    answers: RoleAnswers = {}

    async def role_of(dsn: str) -> NodeState:
        return answers[dsn.removeprefix("postgresql://")]

    monkeypatch.setattr("service.deps.postgres_router._role_of", role_of)
    clock = Clock()
    router = PostgresRouter(
        nodes=nodes, primary_node=nodes[0], settings=PostgresSettings(), clock=clock
    )
    return router, clock, answers


RoleAnswers = dict[str, NodeState]


def check(router: PostgresRouter) -> None:
    asyncio.run(router.redetect())


def test_the_router_measures_each_standby_and_says_nan_for_one_that_does_not_answer(
    monkeypatch: Any,
) -> None:
    router, clock, answers = make_router(monkeypatch, "p:1", "s1:1", "s2:1")
    _, s1, s2 = router.nodes
    answers.update(
        {
            "p:1": NodeState("primary", 1, 100),
            "s1:1": NodeState("standby", lsn=100),
            "s2:1": NodeState("standby", lsn=100),
        }
    )
    check(router)
    assert (s1.lag_s, s2.lag_s) == (0.0, 0.0)
    answers["p:1"] = NodeState("primary", 1, 300)  # a write; s1 replays it, s2 does not
    answers["s1:1"] = NodeState("standby", lsn=300)
    clock.now_s += 2
    check(router)
    clock.now_s += 2
    answers["s2:1"] = NodeState("unknown")  # s2 is away this round
    check(router)
    assert s1.lag_s == 0.0 and math.isnan(s2.lag_s)
    answers["s2:1"] = NodeState("standby", lsn=100)  # back, still behind
    clock.now_s += 2
    check(router)
    assert s2.lag_s == 4.0  # since the check that first saw the primary at 300
    primary = router.nodes[0]
    assert math.isnan(primary.lag_s) and not primary.lag_reported
    samples = metric_samples()
    assert samples[("service_pg_replica_lag_seconds", "s2:1")] == 4.0
    assert samples[("service_pg_replica_lag_bytes", "s2:1")] == 200.0
    assert ("service_pg_replica_lag_seconds", "p:1") not in samples


def test_a_promoted_standby_stops_being_measured_and_its_series_reads_nan(
    monkeypatch: Any,
) -> None:
    router, clock, answers = make_router(monkeypatch, "p:2", "s:2")
    answers.update({"p:2": NodeState("primary", 1, 100), "s:2": NodeState("standby", lsn=100)})
    router.primary_timeline = 1
    check(router)
    assert metric_samples()[("service_pg_replica_lag_seconds", "s:2")] == 0.0
    answers.update({"p:2": NodeState("unknown"), "s:2": NodeState("primary", 2, 150)})
    clock.now_s += 2
    check(router)
    old, promoted = router.nodes
    assert router.primary_node is promoted and old.role == "fenced"
    assert math.isnan(metric_samples()[("service_pg_replica_lag_seconds", "s:2")])
    assert ("service_pg_replica_lag_seconds", "p:2") not in metric_samples()


def metric_samples() -> dict[tuple[str, str], float]:
    """The replica-lag samples this process's /metrics would show: {(name, replica): value}."""
    body, _ = metrics.render()
    return {
        (s.name, s.labels["replica"]): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
        if s.name.startswith("service_pg_replica_lag")
    }
