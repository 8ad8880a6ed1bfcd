"""`gameday stack up` runs the service and the indexer: status sees them healthy, and
the service answers straight and through the `api` proxy."""

from __future__ import annotations

import httpx

from gameday.settings import StackSettings
from gameday.stack import supervisor
from service.settings import AuthSettings
from service.tenants.auth import issue_token


def test_status_reports_the_service_and_the_indexer_healthy(stack: StackSettings) -> None:
    statuses = {s.name: s for s in supervisor.status(stack)}
    assert statuses["service"].healthy, statuses["service"].error
    assert statuses["service"].proxy_port == stack.api_proxy_port
    assert statuses["indexer"].healthy, statuses["indexer"].error
    assert "indexed" in (statuses["indexer"].version or "")


def test_the_stack_service_answers_straight_and_through_the_api_proxy(stack: StackSettings) -> None:
    token = issue_token(AuthSettings(), tenant="stack-check", role="read-only", ttl_s=60)
    headers = {"Authorization": f"Bearer {token}"}
    for base in (stack.service_url, f"http://{stack.host}:{stack.api_proxy_port}"):
        assert httpx.get(f"{base}/v1/health/ready", timeout=5).status_code == 200
        response = httpx.get(f"{base}/v1/search", params={"q": "x"}, headers=headers, timeout=5)
        assert response.status_code == 200 and response.json()["total"] == 0
