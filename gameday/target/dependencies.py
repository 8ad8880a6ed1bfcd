"""The target's dependencies, each reached through a Toxiproxy proxy that gameday
creates (`gameday proxies apply`) on the profile's Toxiproxy server.

    toxiproxy:
      url: http://127.0.0.1:21474
    dependencies:
      postgres:                         # the proxy's name, and the fault's dependency
        listen: 127.0.0.1:22432         # the service connects here ...
        upstream: 127.0.0.1:21432       # ... and Toxiproxy forwards to the real one
"""

from __future__ import annotations

from pydantic import Field, field_validator

from gameday.target._types import Address, Strict


class ToxiproxyServer(Strict):
    url: str = Field(default="http://127.0.0.1:21474", description="the Toxiproxy API")
    timeout_s: float = Field(default=5.0, gt=0, description="per API call")

    @field_validator("url")
    @classmethod
    def _http(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"{url!r} is not an http(s) URL")
        return url.rstrip("/")


class Dependency(Strict):
    listen: Address = Field(description="where the proxy listens (what the service uses)")
    upstream: Address = Field(description="the real dependency")
