"""The checks an experiment's providers recorded for one fault window (`hypothesis_checked`
events whose `phase` is `fault:<window>`), in the order they ran: the RabbitMQ cluster's
samples (outbox backlog, redelivered messages, the queue's leader) and the outbox check
(gameday.chaos.rabbitmq_cluster), shown in the report under that experiment.

    probe_checks(events, window)   # [ProbeCheck(probe="rabbitmq_cluster_sample", ...), ...]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gameday.report.analysis import FaultWindow, timeline
from gameday.rundir import Event, HypothesisChecked

__all__ = ["ProbeCheck", "probe_checks"]


class ProbeCheck(BaseModel):
    model_config = ConfigDict(frozen=True)

    probe: str
    ok: bool
    t_s: float = Field(description="when it was recorded, on the load's clock")
    value: dict[str, Any] = Field(default_factory=dict, description="what it measured")


def probe_checks(events: Sequence[Event], window: FaultWindow) -> list[ProbeCheck]:
    phase = f"fault:{window.name}"
    return [
        ProbeCheck(
            probe=e.probe,
            ok=e.ok,
            t_s=t_s,
            value=e.value if isinstance(e.value, dict) else {"value": e.value},
        )
        for e, t_s in timeline(events)
        if isinstance(e, HypothesisChecked) and e.phase == phase
    ]
