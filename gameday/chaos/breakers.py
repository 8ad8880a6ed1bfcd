"""Breaker states read from a target's signals (gameday.target.Signals): a Prometheus
text endpoint or a Prometheus server (PromQL), mapped to closed, half-open and open by
the profile's mapping, so breaker verdicts work for any service that exports them.

    states = read_breakers(profile.signals, timeout_s=1.0)
    states["postgres"]        # "closed" / "half-open" / "open" / "unknown"

A gauge whose value is the state (`values: {0: closed, 1: half-open, 2: open}`), or
one series per state with 1 for the current one (`states: {open: {state: open}, ...}`,
resilience4j's `resilience4j_circuitbreaker_state{name=...,state=...}`). A breaker
whose series is absent reads "unknown". A source that does not answer (connection,
timeout, an HTTP error, a body that is not Prometheus text or JSON) raises
`SignalsUnreachable` naming the URL and why.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from gameday.errors import StackError
from gameday.rundir import BreakerTransition, RunDir
from gameday.rundir import SignalsUnreachable as SignalsUnreachableEvent
from gameday.target import BreakerSignal, Signals

__all__ = [
    "UNKNOWN",
    "BreakerWatcher",
    "Sample",
    "SignalsUnreachable",
    "breaker_state_of",
    "read_breakers",
    "scrape",
    "source_url",
]

UNKNOWN = "unknown"
Sample = tuple[str, Mapping[str, str], float]  # (metric, labels, value)


class SignalsUnreachable(StackError):
    """The signals source did not answer: `.url` and why."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"signals source {url} unreachable: {reason}")
        self.url = url
        self.reason = reason


def source_url(signals: Signals) -> str:
    return signals.metrics_url or signals.prometheus_url or ""


def read_breakers(
    signals: Signals, *, timeout_s: float = 1.0, metrics_url: str | None = None
) -> dict[str, str]:
    """Every breaker of the profile -> its state now. `metrics_url` replaces the
    profile's text endpoint (the service moved with `gameday run --target`)."""
    if signals.prometheus_url is not None and metrics_url is None:
        return {
            name: breaker_state_of(signal, _query(signals.prometheus_url, signal, timeout_s))
            for name, signal in signals.breakers.items()
        }
    samples = _scrape(metrics_url or signals.metrics_url or "", timeout_s)
    return {name: breaker_state_of(signal, samples) for name, signal in signals.breakers.items()}


def breaker_state_of(signal: BreakerSignal, samples: Iterable[Sample]) -> str:
    """The state the mapping gives the samples of the breaker's metric and labels."""
    mine = [
        (labels, value)
        for metric, labels, value in samples
        if metric == signal.metric and _has(labels, signal.labels)
    ]
    if signal.values is not None:
        for _, value in mine:
            state = signal.values.get(float(value))
            if state is not None:
                return state
        return UNKNOWN
    for state, extra in (signal.states or {}).items():
        if any(value == 1 and _has(labels, extra) for labels, value in mine):
            return state
    return UNKNOWN


def _has(labels: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in wanted.items())


def _get(url: str, timeout_s: float, params: dict[str, str] | None = None) -> httpx.Response:
    try:
        response = httpx.get(url, params=params, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise SignalsUnreachable(url, f"{type(exc).__name__}: {exc}") from None
    if response.status_code >= 400:
        raise SignalsUnreachable(url, f"HTTP {response.status_code}")
    return response


def scrape(url: str, *, timeout_s: float = 2.0) -> list[Sample]:
    """A Prometheus text endpoint's samples."""
    return _scrape(url, timeout_s)


def _scrape(url: str, timeout_s: float) -> list[Sample]:
    text = _get(url, timeout_s).text
    try:
        return [
            (sample.name, dict(sample.labels), float(sample.value))
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        ]
    except ValueError as exc:
        raise SignalsUnreachable(url, f"not Prometheus text: {exc}") from None


def _promql(signal: BreakerSignal) -> str:
    if signal.query:
        return signal.query
    labels = ",".join(f'{k}="{v}"' for k, v in sorted(signal.labels.items()))
    return f"{signal.metric}{{{labels}}}"


def _query(server: str, signal: BreakerSignal, timeout_s: float) -> list[Sample]:
    """An instant PromQL query; each series of the result as a sample of the metric."""
    url = f"{server.rstrip('/')}/api/v1/query"
    response = _get(url, timeout_s, params={"query": _promql(signal)})
    try:
        body = response.json()
        result = body["data"]["result"] if body.get("status") == "success" else None
    except (ValueError, KeyError, TypeError, AttributeError):
        result = None
    if not isinstance(result, list):
        raise SignalsUnreachable(url, "not a Prometheus query answer")
    samples: list[Sample] = []
    for series in result:
        labels = {k: str(v) for k, v in (series.get("metric") or {}).items()}
        # a query's result names the series; the signal's metric and labels select it
        samples.append((signal.metric, {**signal.labels, **labels}, float(series["value"][1])))
    return samples


class BreakerWatcher:
    """Puts the target's circuit-breaker transitions on the run's timeline
    (`breaker_transition` events), read from its signals once a second (the profile's
    mapping; gameday.chaos.breakers). A source that does not answer `UNREACHABLE_POLLS`
    polls in a row is one `signals_unreachable` event per gap, dated at its first
    failed poll: breaker states are unknown there, so the report says ERROR. A shorter
    gap (a slow scrape under load) is within the watcher's resolution and not recorded."""

    UNREACHABLE_POLLS = 5
    TIMEOUT_S = 1.0
    POLL_S = 1.0

    def __init__(self, signals: Signals, run_dir: Path, *, metrics_url: str | None = None) -> None:
        self.signals = signals
        self.metrics_url = metrics_url  # the text endpoint moved with the service (--target)
        self.run_dir = run_dir
        self.states: dict[str, str] = {}
        self.last_poll = -1.0
        self.failed: list[tuple[float, SignalsUnreachable]] = []  # (epoch, why) in a row
        self.reported_gap = False

    @property
    def source(self) -> str:
        return self.metrics_url or source_url(self.signals)

    def poll(self, elapsed_s: float) -> None:
        if elapsed_s - self.last_poll < self.POLL_S:
            return
        self.last_poll = elapsed_s
        try:
            current = read_breakers(
                self.signals, timeout_s=self.TIMEOUT_S, metrics_url=self.metrics_url
            )
        except SignalsUnreachable as exc:
            self._failed(exc)
            return
        self.failed, self.reported_gap = [], False
        for dependency, state in current.items():
            before = self.states.get(dependency)
            if before is not None and before != state:
                RunDir(self.run_dir).append_event(
                    BreakerTransition(dependency=dependency, from_state=before, to_state=state)
                )
            self.states[dependency] = state

    def _failed(self, exc: SignalsUnreachable) -> None:
        self.failed.append((time.time(), exc))
        if len(self.failed) >= self.UNREACHABLE_POLLS and not self.reported_gap:
            self.reported_gap = True
            RunDir(self.run_dir).append_event(
                SignalsUnreachableEvent(
                    epoch=self.failed[0][0],
                    source=exc.url,
                    reason=exc.reason,
                    polls_failed=len(self.failed),
                )
            )
