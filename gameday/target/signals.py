"""Where breaker states (and later other gauges) come from, and how a metric's
samples map to closed, half-open and open.

A gauge whose value is the state (the reference service's):

    signals:
      metrics_url: http://127.0.0.1:28080/metrics      # Prometheus text format
      breakers:
        postgres:
          metric: service_breaker_state
          labels: {dependency: postgres}
          values: {0: closed, 1: half-open, 2: open}

One series per state, 1 for the current one (resilience4j's), read from Prometheus:

    signals:
      prometheus_url: http://prometheus:9090
      breakers:
        payments:
          metric: resilience4j_circuitbreaker_state
          labels: {name: payments}
          states: {closed: {state: closed}, half-open: {state: half_open},
                   open: {state: open}}
          # query: PromQL, when metric and labels are not enough
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from gameday.target._types import Strict

BreakerState = Literal["closed", "half-open", "open"]


class BreakerSignal(Strict):
    metric: str = Field(description="the metric's name")
    labels: dict[str, str] = Field(default_factory=dict, description="selects the series")
    query: str | None = Field(default=None, description="PromQL (with prometheus_url only)")
    values: dict[float, BreakerState] | None = Field(
        default=None, description="the gauge's value -> state"
    )
    states: dict[BreakerState, dict[str, str]] | None = Field(
        default=None, description="state -> extra labels of the series that is 1 in it"
    )

    @model_validator(mode="after")
    def _one_mapping(self) -> BreakerSignal:
        if (self.values is None) == (self.states is None):
            raise ValueError("give exactly one of values (value -> state) or states")
        return self


class Signals(Strict):
    """Exactly one source: a Prometheus text endpoint, or a Prometheus server."""

    metrics_url: str | None = Field(default=None, description="Prometheus text endpoint")
    prometheus_url: str | None = Field(default=None, description="Prometheus server (PromQL)")
    breakers: dict[str, BreakerSignal] = Field(
        default_factory=dict, description="breaker name (usually a dependency) -> signal"
    )

    @field_validator("metrics_url", "prometheus_url")
    @classmethod
    def _http(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError(f"{url!r} is not an http(s) URL")
        return url

    @model_validator(mode="after")
    def _one_source(self) -> Signals:
        if (self.metrics_url is None) == (self.prometheus_url is None):
            raise ValueError("give exactly one of metrics_url or prometheus_url")
        if self.metrics_url is not None:
            with_query = sorted(n for n, b in self.breakers.items() if b.query is not None)
            if with_query:
                raise ValueError(
                    f"breakers {', '.join(with_query)}: query is PromQL, which needs "
                    "prometheus_url (a text endpoint is read by metric and labels)"
                )
        return self
