"""`stack up --redis-sentinel` without servers: the ports, what each Redis server and
Sentinel is started with (announcing its proxy), what the service is given, and the
service's refusal of a bad Sentinel address."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gameday.settings import StackSettings
from gameday.stack.redis_sentinel import (
    DOWN_AFTER_MS,
    FAILOVER_TIMEOUT_MS,
    SENTINEL_MASTER,
    RedisReplica,
    RedisSentinel1,
    sentinel_redis_args,
)
from gameday.stack.registry import build_components
from gameday.stack.service_env import service_env
from service.settings import RedisSettings

# No Sentinel answers there (nothing listens on 1031-1033): the fresh-start topology.
NO_SENTINELS = {"redis_sentinel_port": 1031, "redis_sentinel_proxy_port": 1031}


def _settings(tmp_path: Path, **values: object) -> StackSettings:
    return StackSettings(state_dir=tmp_path, redis_sentinel=True, **values)  # type: ignore[arg-type]


def test_the_three_sentinels_ports_collide_with_no_other_port() -> None:
    settings = StackSettings()
    fields = settings.model_dump()
    sentinels = {
        fields[name] + i
        for name in ("redis_sentinel_port", "redis_sentinel_proxy_port")
        for i in range(3)
    }
    others = {v for k, v in fields.items() if k.endswith("_port") and "sentinel" not in k}
    assert len(sentinels) == 6 and not sentinels & others


def test_the_replica_and_sentinels_are_built_only_with_the_flag(tmp_path: Path) -> None:
    names = {c.name for c in build_components(StackSettings(state_dir=tmp_path))}
    assert not {n for n in names if n.startswith(("redis-replica", "redis-sentinel"))}
    names = {c.name for c in build_components(_settings(tmp_path))}
    assert {"redis-replica", "redis-sentinel-0", "redis-sentinel-1", "redis-sentinel-2"} <= names


def test_each_redis_server_announces_its_proxy_and_a_fresh_replica_follows_redis(
    tmp_path: Path,
) -> None:
    settings = _settings(tmp_path, **NO_SENTINELS)
    primary = sentinel_redis_args(settings, "redis")
    assert primary == ["--replica-announce-ip", "127.0.0.1", "--replica-announce-port", "22379"]
    replica = RedisReplica(settings).launch().argv
    assert replica[replica.index("--replica-announce-port") + 1] == "22380"
    assert replica[replica.index("--replicaof") + 1 :][:2] == ["127.0.0.1", "22379"]


def test_without_the_flag_redis_starts_exactly_as_before(tmp_path: Path) -> None:
    argv = build_components(StackSettings(state_dir=tmp_path), only=["redis"])[0].launch().argv
    assert not [a for a in argv if "announce" in a or a == "--replicaof"]


def test_a_sentinel_config_announces_its_proxy_and_states_the_timeouts(tmp_path: Path) -> None:
    settings = _settings(tmp_path, **NO_SENTINELS)
    sentinel = RedisSentinel1(settings)
    sentinel.prepare()
    lines = sentinel.config_path.read_text().splitlines()
    assert "sentinel announce-port 1032" in lines  # proxy port 1031 + index 1
    assert f"sentinel monitor {SENTINEL_MASTER} 127.0.0.1 22379 2" in lines
    assert f"sentinel down-after-milliseconds {SENTINEL_MASTER} {DOWN_AFTER_MS}" in lines
    assert f"sentinel failover-timeout {SENTINEL_MASTER} {FAILOVER_TIMEOUT_MS}" in lines
    assert sentinel.config_path.parent == sentinel.data_dir  # Sentinel rewrites it there


def test_the_service_is_given_the_sentinels_proxies_only_with_the_flag(tmp_path: Path) -> None:
    assert "SERVICE_REDIS_SENTINELS" not in service_env(StackSettings(state_dir=tmp_path))
    env = service_env(_settings(tmp_path))
    assert env["SERVICE_REDIS_SENTINELS"] == "127.0.0.1:22381,127.0.0.1:22382,127.0.0.1:22383"
    assert env["SERVICE_REDIS_SENTINEL_MASTER"] == SENTINEL_MASTER


def test_the_service_reads_the_sentinel_addresses() -> None:
    settings = RedisSettings(sentinels=" 127.0.0.1:22381, ::1:22382 ,")
    assert settings.sentinel_addresses == [("127.0.0.1", 22381), ("::1", 22382)]
    assert RedisSettings().sentinel_addresses == []


@pytest.mark.parametrize("bad", ["127.0.0.1", "127.0.0.1:port", ":22381"])
def test_a_bad_sentinel_address_is_refused_naming_the_setting_and_the_form(bad: str) -> None:
    with pytest.raises(ValidationError, match="SERVICE_REDIS_SENTINELS.*is not host:port"):
        RedisSettings(sentinels=bad)
