"""Did we notice? The target's alerts, read from its Prometheus server's API during a run
and put on the run's timeline, so the report can say which alerts fired after each
fault and how fast (it never queries Prometheus itself).

    names = alert_rule_names("http://127.0.0.1:29090")   # {"BreakerOpen", ...}
    watcher = AlertWatcher("http://127.0.0.1:29090", run_dir)
    watcher.poll(elapsed_s)     # once a second beside the load (SuiteSidecar.tick)

Events: `alerts_watched` at the first answer; `alert_firing` when an alert (name and
labels) is first seen firing, `alert_resolved` when a firing one is gone or no longer
firing; `alerts_unreachable` when the server does not answer `UNREACHABLE_POLLS` polls
in a row (the report then says ERROR: whether an alert fired there is unknown).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from gameday.errors import StackError
from gameday.rundir import AlertFiring, AlertResolved, AlertsUnreachable, AlertsWatched, RunDir

__all__ = ["AlertWatcher", "PrometheusUnreachable", "alert_rule_names", "firing_alerts", "query"]

AlertKey = tuple[str, tuple[tuple[str, str], ...]]  # (alertname, sorted other labels)


class PrometheusUnreachable(StackError):
    """The Prometheus server did not answer, or not as its HTTP API does: `.url`, why."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"Prometheus at {url} unreachable: {reason}")
        self.url = url
        self.reason = reason


def _api(server: str, path: str, *, timeout_s: float, params: dict[str, str] | None = None) -> Any:
    """The `data` of one Prometheus HTTP API answer."""
    url = f"{server.rstrip('/')}{path}"
    try:
        response = httpx.get(url, params=params, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise PrometheusUnreachable(server, f"{type(exc).__name__}: {exc}") from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or body.get("status") != "success":
        error = body.get("error") if isinstance(body, dict) else None
        raise PrometheusUnreachable(
            server, f"{path}: HTTP {response.status_code}" + (f", {error}" if error else "")
        )
    return body.get("data")


def alert_rule_names(server: str, *, timeout_s: float = 5.0) -> set[str]:
    """The names of every alerting rule the server has loaded."""
    data = _api(server, "/api/v1/rules", timeout_s=timeout_s, params={"type": "alert"})
    return {
        str(rule["name"])
        for group in (data or {}).get("groups", [])
        for rule in group.get("rules", [])
        if rule.get("type") == "alerting"
    }


def firing_alerts(server: str, *, timeout_s: float = 1.0) -> dict[AlertKey, dict[str, Any]]:
    """Every alert firing now, by (name, labels), with Prometheus's description of it."""
    data = _api(server, "/api/v1/alerts", timeout_s=timeout_s)
    firing: dict[AlertKey, dict[str, Any]] = {}
    for alert in (data or {}).get("alerts", []):
        if alert.get("state") != "firing":
            continue
        labels = {str(k): str(v) for k, v in (alert.get("labels") or {}).items()}
        name = labels.pop("alertname", "")
        firing[(name, tuple(sorted(labels.items())))] = alert
    return firing


Series = list[tuple[dict[str, str], float]]  # (labels, value) per series


def query(server: str, promql: str, *, timeout_s: float = 2.0) -> Series:
    """An instant PromQL query: each series' labels and value (a scalar: no labels)."""
    data = _api(server, "/api/v1/query", timeout_s=timeout_s, params={"query": promql})
    kind, result = (data or {}).get("resultType"), (data or {}).get("result")
    if kind == "scalar" and isinstance(result, list):
        return [({}, float(result[1]))]
    if kind != "vector" or not isinstance(result, list):
        raise PrometheusUnreachable(server, f"query {promql!r} gave a {kind}, not a vector")
    return [
        ({str(k): str(v) for k, v in (s.get("metric") or {}).items()}, float(s["value"][1]))
        for s in result
    ]


class AlertWatcher:
    """Puts the alerts of a Prometheus server on the run's timeline, polled every
    `poll_interval_s`; see the module docstring. An alert firing already at the first
    poll is recorded then too: the report counts only those seen after a fault."""

    UNREACHABLE_POLLS = 5
    TIMEOUT_S = 1.0

    def __init__(self, server: str, run_dir: Path, *, poll_interval_s: float = 1.0) -> None:
        self.server = server
        self.run_dir = RunDir(run_dir)
        self.poll_interval_s = poll_interval_s
        self.firing: dict[AlertKey, dict[str, Any]] = {}
        self.last_poll: float | None = None
        self.watching = False
        self.failed: list[tuple[float, PrometheusUnreachable]] = []  # (epoch, why) in a row
        self.reported_gap = False

    def poll(self, elapsed_s: float) -> None:
        if self.last_poll is not None and elapsed_s - self.last_poll < self.poll_interval_s:
            return
        self.last_poll = elapsed_s
        try:
            if not self.watching:
                names = sorted(alert_rule_names(self.server, timeout_s=self.TIMEOUT_S))
            now = firing_alerts(self.server, timeout_s=self.TIMEOUT_S)
        except PrometheusUnreachable as exc:
            self._failed(exc)
            return
        self.failed, self.reported_gap = [], False
        if not self.watching:
            self.watching = True
            self.run_dir.append_event(AlertsWatched(source=self.server, alerts=names))
        for key, alert in now.items():
            if key not in self.firing:
                self.run_dir.append_event(_firing(key, alert))
        for key in self.firing.keys() - now.keys():
            self.run_dir.append_event(AlertResolved(alert=key[0], labels=dict(key[1])))
        self.firing = now

    def _failed(self, exc: PrometheusUnreachable) -> None:
        self.failed.append((time.time(), exc))
        if len(self.failed) >= self.UNREACHABLE_POLLS and not self.reported_gap:
            self.reported_gap = True
            self.run_dir.append_event(
                AlertsUnreachable(
                    epoch=self.failed[0][0],
                    source=self.server,
                    reason=exc.reason,
                    polls_failed=len(self.failed),
                )
            )


def _firing(key: AlertKey, alert: dict[str, Any]) -> AlertFiring:
    labels = dict(key[1])
    annotations = alert.get("annotations") or {}
    return AlertFiring(
        alert=key[0],
        labels=labels,
        severity=labels.get("severity"),
        active_at=alert.get("activeAt"),
        summary=annotations.get("summary"),
    )
