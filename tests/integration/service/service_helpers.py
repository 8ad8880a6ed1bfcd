"""Helpers shared by the service's integration tests (the fixtures live in conftest)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from opensearchpy import OpenSearch

from gameday.chaos.toxiproxy import ToxiproxyClient
from gameday.settings import StackSettings
from service.settings import AuthSettings
from service.tenants.auth import issue_token

T = TypeVar("T")


@dataclass
class ServiceUnderTest:
    url: str
    env: dict[str, str] = field(repr=False)
    stack: StackSettings
    namespace: str
    logs: Path
    amqp_proxy: str

    def set_broker_reachable(self, reachable: bool) -> None:
        """Enables or disables this service's private proxy to RabbitMQ."""
        with ToxiproxyClient(self.stack.toxiproxy_url) as client:
            client.set_enabled(self.amqp_proxy, reachable)

    def token(self, tenant: str, role: str = "user", ttl_s: float = 600) -> str:
        return issue_token(AuthSettings(), tenant=tenant, role=role, ttl_s=ttl_s)

    def client(self, tenant: str | None = None, role: str = "user") -> httpx.Client:
        headers = {"X-Synthetic": "gameday-tests"}
        if tenant is not None:
            headers["Authorization"] = f"Bearer {self.token(tenant, role)}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=15.0)

    @property
    def alias(self) -> str:
        return self.env["SERVICE_OPENSEARCH_ALIAS"]

    @property
    def queue(self) -> str:
        return self.env["SERVICE_AMQP_QUEUE"]

    def opensearch(self) -> OpenSearch:
        return OpenSearch(hosts=self.stack.opensearch_urls, timeout=15)


def eventually(
    probe: Callable[[], T | None], *, timeout_s: float = 20.0, every_s: float = 0.2
) -> T:
    """Polls until ``probe`` returns something truthy; fails with the last value otherwise."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every_s)
    raise AssertionError(f"condition not met within {timeout_s}s (last: {last!r})")


def make_document(**overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "title": f"document {uuid.uuid4().hex[:8]}",
        "body": "a body about nothing in particular",
        "tags": ["general"],
        "status": "published",
    }
    doc.update(overrides)
    return doc


def search_ids(client: httpx.Client, **params: Any) -> set[str]:
    response = client.get("/v1/search", params=params)
    assert response.status_code == 200, response.text
    return {hit["id"] for hit in response.json()["hits"]}
