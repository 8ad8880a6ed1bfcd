from __future__ import annotations

import pytest

from gameday.settings import StackSettings


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def session_servers(stack: StackSettings) -> StackSettings:
    """The session stack's servers reached straight, not through its proxies. For the
    private-stack modules (PgBouncer, the replica, Sentinel, the restore drill), whose
    service uses the session's Redis, RabbitMQ and OpenSearch: `make test` runs them
    beside the chaos tests (tests/lanes.py), which break those proxies on purpose."""
    return stack.model_copy(
        update={
            "postgres_proxy_port": stack.postgres_port,
            "redis_proxy_port": stack.redis_port,
            "rabbitmq_proxy_port": stack.rabbitmq_port,
            "opensearch_proxy_port": stack.opensearch_port,
        }
    )
