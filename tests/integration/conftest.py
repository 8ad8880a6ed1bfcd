from __future__ import annotations

import pytest

from gameday.settings import StackSettings
from tests.integration.session_servers import straight


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.path):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def session_servers(stack: StackSettings) -> StackSettings:
    """The session stack's servers reached straight, not through its proxies
    (tests/integration/session_servers.py says for whom and why)."""
    return straight(stack)
