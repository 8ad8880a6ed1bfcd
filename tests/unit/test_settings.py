from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gameday.settings import StackSettings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("GAMEDAY_REDIS_PORT", "GAMEDAY_STATE_DIR", "GAMEDAY_SEARCH_NODES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults_keep_every_port_off_standard_and_ephemeral_ports() -> None:
    settings = StackSettings()
    ports = [v for k, v in settings.model_dump().items() if k.endswith("_port")]
    assert len(ports) == len(set(ports)), "two components share a port"
    standard = {5432, 6379, 5672, 9200, 9300, 8474, 4369, 25672, 8000, 8080}
    for port in ports:
        assert port not in standard
        assert not 32768 <= port <= 60999


def test_clients_are_given_proxy_addresses_never_upstream_ones() -> None:
    settings = StackSettings()
    assert f":{settings.postgres_proxy_port}/" in settings.postgres_dsn
    assert settings.redis_url.endswith(f":{settings.redis_proxy_port}/0")
    assert f":{settings.rabbitmq_proxy_port}/" in settings.amqp_url
    assert settings.opensearch_urls == [f"http://127.0.0.1:{settings.opensearch_proxy_port}"]


def test_each_search_node_gets_its_own_proxy() -> None:
    settings = StackSettings(search_nodes=3)
    base = settings.opensearch_proxy_port
    assert settings.opensearch_proxy_ports() == [base, base + 1, base + 2]


def test_precedence_is_defaults_then_pyproject_then_toml_then_env_then_flags(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert StackSettings().redis_port == 21379
    (tmp_path / "pyproject.toml").write_text("[tool.gameday]\nredis_port = 23001\n")
    assert StackSettings().redis_port == 23001
    (tmp_path / "gameday.toml").write_text("redis_port = 23002\n")
    assert StackSettings().redis_port == 23002
    monkeypatch.setenv("GAMEDAY_REDIS_PORT", "23003")
    assert StackSettings().redis_port == 23003
    assert StackSettings(redis_port=23004).redis_port == 23004


def test_a_port_in_the_ephemeral_range_is_rejected_with_the_reason() -> None:
    with pytest.raises(ValidationError, match="ephemeral range"):
        StackSettings(redis_port=40000)
