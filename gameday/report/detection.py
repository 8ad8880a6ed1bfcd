"""Did we notice? Which alerts fired after each fault, how long after it (time to detect)
and when they resolved, read from the timeline's `alert_firing` / `alert_resolved` events
(gameday.chaos.alerts wrote them during the run; the report never asks Prometheus).

    seen = alert_detections(events, window, until_s=next_window_start)
    seen[0].alert, seen[0].detected_after_s, seen[0].resolved_after_removal_s
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from gameday.report.analysis import FaultWindow, timeline
from gameday.rundir import AlertFiring, AlertResolved, AlertsUnreachable, AlertsWatched, Event
from gameday.slo.evaluate import SeenAlert


class AlertDetection(BaseModel):
    model_config = ConfigDict(frozen=True)

    alert: str
    labels: dict[str, str] = Field(description="the alert's labels, without alertname")
    severity: str | None
    fired_at_s: float = Field(description="when the harness saw it firing (load's clock)")
    detected_after_s: float = Field(description="fault start to seeing it fire")
    resolved_at_s: float | None = Field(description="when it was seen resolved; null: never")
    resolved_after_removal_s: float | None = Field(
        description="fault removal to seeing it resolved (negative: before the removal)"
    )

    def seen(self) -> SeenAlert:
        return (self.alert, self.labels, self.detected_after_s)


def alert_detections(
    events: Sequence[Event], window: FaultWindow, *, until_s: float | None = None
) -> list[AlertDetection]:
    """Every alert first seen firing from the fault's start up to `until_s` (the next
    fault's start), in order; one already firing when the fault started is not its
    detection."""
    dated = timeline(events)
    found: list[AlertDetection] = []
    for event, t_s in dated:
        if not isinstance(event, AlertFiring) or t_s < window.injected_s:
            continue
        if until_s is not None and t_s >= until_s:
            break
        resolved = next(
            (
                r_s
                for r, r_s in dated
                if isinstance(r, AlertResolved)
                and r_s >= t_s
                and (r.alert, r.labels) == (event.alert, event.labels)
            ),
            None,
        )
        after_removal = None
        if resolved is not None and window.removed_s is not None:
            after_removal = round(resolved - window.removed_s, 3)
        found.append(
            AlertDetection(
                alert=event.alert,
                labels=event.labels,
                severity=event.severity,
                fired_at_s=t_s,
                detected_after_s=round(t_s - window.injected_s, 3),
                resolved_at_s=resolved,
                resolved_after_removal_s=after_removal,
            )
        )
    return found


def alerts_watched(events: Sequence[Event]) -> bool:
    return any(isinstance(e, AlertsWatched) for e in events)


def alerts_problems(events: Sequence[Event]) -> list[str]:
    """A Prometheus whose alerts were watched and that stopped answering: whether an alert
    fired there is unknown, so the run's data is an error (never a pass)."""
    return [
        f"Prometheus at {e.source} unreachable from "
        f"{'?' if e.t_s is None else f'{e.t_s:.1f}'} s on ({e.polls_failed} polls in a row or "
        f"more; {e.reason}): alerts unknown, detection cannot be judged"
        for e in events
        if isinstance(e, AlertsUnreachable)
    ]
