"""Where the target's alerts are evaluated: a Prometheus server whose alerts API the
harness polls during a run with experiments (`alert_firing` / `alert_resolved`
events), so the report can say whether, and how fast, a fault was noticed.

    alerts:
      prometheus_url: http://127.0.0.1:29090   # the stack's Prometheus
      poll_interval_s: 1
"""

from __future__ import annotations

from pydantic import Field, field_validator

from gameday.target._types import Strict


class Alerts(Strict):
    prometheus_url: str = Field(description="Prometheus server evaluating the alert rules")
    poll_interval_s: float = Field(
        default=1.0, gt=0, le=10, description="how often its alerts API is read during a run"
    )

    @field_validator("prometheus_url")
    @classmethod
    def _http(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"{url!r} is not an http(s) URL")
        return url.rstrip("/")
