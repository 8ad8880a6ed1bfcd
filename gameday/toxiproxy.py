"""A small typed client for the Toxiproxy HTTP API, used by the stack (which creates
the proxies) and by chaos (which injects faults through them).

    client = ToxiproxyClient("http://127.0.0.1:21474", timeout_s=5.0)
    client.add_toxic("redis", Toxic(name="redis-latency-300ms", type="latency",
                                    attributes={"latency": 300}))
    client.remove_toxic("redis", "redis-latency-300ms")

Every call has a timeout (the API has been seen to hang on toxic deletes under
heavy traffic) and every non-2xx answer raises `ToxiproxyError`: a fault that
was not injected must never pass silently (toxiproxy-python ignores 5xx).
"""

from __future__ import annotations

from typing import Any, Literal

import httpx
from pydantic import BaseModel, Field

from gameday.errors import ToxiproxyError

Stream = Literal["upstream", "downstream"]


class Toxic(BaseModel):
    name: str
    type: str
    stream: Stream = "downstream"
    toxicity: float = Field(default=1.0, ge=0.0, le=1.0)
    attributes: dict[str, Any] = Field(default_factory=dict)


class Proxy(BaseModel):
    name: str
    listen: str
    upstream: str
    enabled: bool = True
    toxics: list[Toxic] = Field(default_factory=list)


class ToxiproxyClient:
    def __init__(self, url: str, *, timeout_s: float = 5.0) -> None:
        self._http = httpx.Client(base_url=url, timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ToxiproxyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, *, proxy: str | None = None, **kw: Any) -> Any:
        try:
            response = self._http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise ToxiproxyError(
                f"toxiproxy API {method} {path} failed: {exc!r}; is the stack up "
                "(gameday stack status)?",
                proxy=proxy,
            ) from exc
        if response.status_code >= 300:
            raise ToxiproxyError(
                f"toxiproxy API {method} {path} answered {response.status_code}: "
                f"{response.text.strip()}",
                proxy=proxy,
            )
        return response.json() if response.content else None

    def version(self) -> str:
        try:
            response = self._http.get("/version")
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise ToxiproxyError(f"toxiproxy API unreachable: {exc!r}") from exc
        text = response.text.strip()
        if text.startswith("{"):
            return str(response.json().get("version", text))
        return text

    def proxies(self) -> dict[str, Proxy]:
        data = self._call("GET", "/proxies")
        return {name: Proxy.model_validate(p) for name, p in data.items()}

    def populate(self, proxies: list[Proxy]) -> None:
        """Create or update proxies in one call (idempotent)."""
        body = [p.model_dump(include={"name", "listen", "upstream", "enabled"}) for p in proxies]
        self._call("POST", "/populate", json=body)

    def delete(self, proxy: str) -> None:
        """Remove a proxy (and its listener); one that is already gone is fine."""
        response = self._http.delete(f"/proxies/{proxy}")
        if response.status_code not in (204, 404):
            raise ToxiproxyError(
                f"toxiproxy API DELETE /proxies/{proxy} answered {response.status_code}: "
                f"{response.text.strip()}",
                proxy=proxy,
            )

    def set_enabled(self, proxy: str, enabled: bool) -> None:
        self._call("POST", f"/proxies/{proxy}", proxy=proxy, json={"enabled": enabled})

    def add_toxic(self, proxy: str, toxic: Toxic) -> Toxic:
        data = self._call("POST", f"/proxies/{proxy}/toxics", proxy=proxy, json=toxic.model_dump())
        return Toxic.model_validate(data)

    def remove_toxic(self, proxy: str, name: str) -> None:
        self._call("DELETE", f"/proxies/{proxy}/toxics/{name}", proxy=proxy)

    def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        self._call("POST", "/reset")
