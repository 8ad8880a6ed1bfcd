from __future__ import annotations

import pytest
from pydantic import ValidationError

from gameday.settings import StackSettings
from gameday.stack.service_env import service_env
from service.settings import (
    DEV_JWT_KEY,
    AuthSettings,
    OpenSearchSettings,
    Settings,
)


@pytest.fixture(autouse=True)
def _clean_service_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("SERVICE_"):
            monkeypatch.delenv(name)


def test_service_env_points_every_dependency_at_its_proxy() -> None:
    stack = StackSettings(postgres_proxy_port=23432, redis_proxy_port=23379, search_nodes=2)
    env = service_env(stack)
    assert env["SERVICE_POSTGRES_DSN"].endswith("@127.0.0.1:23432/gameday")
    assert env["SERVICE_REDIS_URL"] == "redis://127.0.0.1:23379/0"
    assert env["SERVICE_AMQP_URL"] == stack.amqp_url
    assert env["SERVICE_OPENSEARCH_HOSTS"] == "http://127.0.0.1:22200,http://127.0.0.1:22201"
    assert env["SERVICE_OPENSEARCH_REPLICAS"] == "1"


def test_settings_read_the_env_that_service_env_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in service_env(StackSettings(search_nodes=3)).items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env()
    assert settings.opensearch.host_list == [
        "http://127.0.0.1:22200",
        "http://127.0.0.1:22201",
        "http://127.0.0.1:22202",
    ]
    assert settings.redis.url == "redis://127.0.0.1:22379/0"


def test_the_dev_signing_key_is_refused_outside_development() -> None:
    with pytest.raises(ValidationError, match="SERVICE_AUTH_JWT_KEY is the development key"):
        AuthSettings(SERVICE_PROFILE="production")
    assert AuthSettings(SERVICE_PROFILE="production", jwt_key="k" * 40).jwt_key != DEV_JWT_KEY


def test_a_short_signing_key_is_refused() -> None:
    with pytest.raises(ValidationError, match="jwt_key"):
        AuthSettings(jwt_key="short")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("1s", 1.0), ("200ms", 0.2), ("2m", 120.0), ("-1", 0.0), ("1.5s", 1.5)],
    ids=["s", "ms", "m", "off", "fraction"],
)
def test_refresh_interval_is_understood_in_seconds(text: str, seconds: float) -> None:
    assert OpenSearchSettings(refresh_interval=text).refresh_interval_s == pytest.approx(seconds)


def test_a_bad_refresh_interval_is_refused() -> None:
    with pytest.raises(ValidationError, match="refresh_interval"):
        OpenSearchSettings(refresh_interval="soon")


def test_schema_names_must_be_safe_identifiers() -> None:
    from service.settings import PostgresSettings

    with pytest.raises(ValidationError):
        PostgresSettings(SERVICE_POSTGRES_SCHEMA='x"; drop table documents; --')
