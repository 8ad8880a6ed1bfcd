"""The independent prober (tests/integration/prober.py) as a chaos test uses it, and
the harness's measurements on the prober's clock, so the two can be compared.

    token = write_token(tmp_path / "token", tenant="prober")
    with independent_prober(service.url, token, tmp_path / "probes.jsonl") as prober:
        result = gameday_run(..., "--target", service.url, "--out", str(run_dir))
    windows = prober.analyse()
    harness = harness_windows(run_dir, fault="opensearch-down", dependency="opensearch")
    comparison = cross_check(windows, harness, tolerance_s=3.0)
    assert comparison.agrees, comparison

How the times are compared (every one as wall-clock epoch seconds):

- the harness's ``t_s`` is seconds since the load started; each event in events.jsonl
  has its ``t_s`` and its ``epoch`` (``wall`` in ISO 8601) taken at the same instant, so
  the load started at ``epoch - t_s`` (:func:`load_start_epoch`) and a load-clock time
  ``t_s`` (summary.json's ``rto_s``, ``recovered_at_s``, ...) is ``start + t_s``;
- recovery: the harness recovered at ``injected + rto_s``; the prober at the first
  answer of its first outage that ends after the injection to be followed by
  ``sustained_s`` of healthy answers (:meth:`Windows.recovery_after`);
- the breaker: the harness's first ``breaker_transition`` to ``open`` at or after the
  injection and its first out of ``open`` at or after the removal (to half-open or
  closed) against the first and last fast 503 / ``X-Degraded`` answer of that same
  outage of the prober's. Out of open, not to closed: half-open lets its trial calls
  through (5 of them for the reference service), so the prober's requests are answered
  from the first trial on, while the breaker reads closed only after the fifth has
  succeeded, a second or more later on a busy machine. The report's own check (the
  breaker closed within its bound) reads the arrival at closed (``breaker_closed``).

The harness polls ``/metrics`` once a second and bins requests into whole seconds, the
prober answers every ``interval``: a second or so apart is the expected jitter.

Only this module reads the run directory, and only after the run: the prober process
never sees it.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.integration.prober import Outage, Probe, Windows, infer_windows, judge, read_probes

PROBER = Path(__file__).with_name("prober.py")


def write_token(path: Path, *, tenant: str, ttl_s: float = 3600) -> Path:
    """A bearer token for the reference service, minted here (the prober only reads it)."""
    from service.settings import AuthSettings
    from service.tenants.auth import issue_token

    path.write_text(issue_token(AuthSettings(), tenant=tenant, role="read-only", ttl_s=ttl_s))
    return path


@dataclass
class RunningProber:
    out: Path
    log: Path
    process: subprocess.Popen[bytes]

    def probes(self) -> list[Probe]:
        return read_probes(self.out) if self.out.exists() else []

    def analyse(self, **options: Any) -> Windows:
        """:func:`infer_windows` over what was recorded so far (options passed on)."""
        return infer_windows(self.probes(), **options)

    def wait_until_healthy_since(self, t: float, *, seconds: float, timeout_s: float) -> None:
        """Waits (bounded) until every answer sent after ``t`` for ``seconds`` was healthy
        and one was sent after that span."""

        def healthy_span() -> bool:
            after = [p for p in self.probes() if p.t >= t]
            if not after or after[-1].t < after[0].t + seconds:
                return False
            span = [p for p in after if p.t <= after[0].t + seconds]
            return all(judge(p) == "healthy" for p in span)

        self._wait(healthy_span, timeout_s, f"{seconds:g} s of healthy answers")

    def wait_for_answers(self, predicate: Any, *, timeout_s: float, what: str) -> None:
        """Waits (bounded) until ``predicate(probes)`` holds."""
        self._wait(lambda: bool(predicate(self.probes())), timeout_s, what)

    def _wait(self, condition: Any, timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if condition():
                return
            if self.process.poll() is not None:
                raise AssertionError(f"the prober exited: {self.log.read_text()[-2000:]}")
            time.sleep(0.2)
        tail = self.out.read_text().splitlines()[-5:] if self.out.exists() else []
        raise AssertionError(f"no {what} within {timeout_s} s; last answers: {tail}")


@contextmanager
def independent_prober(
    url: str,
    token_path: Path,
    out_path: Path,
    *,
    interval_s: float = 0.2,
    timeout_s: float = 2.0,
    ready_timeout_s: float = 30.0,
    queries: Sequence[str] = (),
) -> Iterator[RunningProber]:
    """Starts the prober against ``url``; yields once it has seen a healthy answer;
    stops it (SIGTERM, then the requests in flight end) on the way out."""
    argv = [sys.executable, str(PROBER), "--url", url, "--token-file", str(token_path)]
    argv += ["--out", str(out_path), "--interval", str(interval_s), "--timeout", str(timeout_s)]
    for q in queries:
        argv += ["--query", q]
    log = out_path.with_suffix(".log")
    with open(log, "wb") as stderr:
        process = subprocess.Popen(
            argv, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True
        )
    prober = RunningProber(out=out_path, log=log, process=process)
    try:
        prober.wait_for_answers(
            lambda probes: any(judge(p) == "healthy" for p in probes),
            timeout_s=ready_timeout_s,
            what="healthy answer",
        )
        yield prober
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s + 10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# ---------------------------------------------------------------- the harness's times


def _events(run_dir: Path) -> list[dict[str, Any]]:
    lines = (run_dir / "events.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _epoch(event: dict[str, Any]) -> float:
    if isinstance(event.get("epoch"), int | float):
        return float(event["epoch"])
    return datetime.fromisoformat(event["wall"]).replace(tzinfo=UTC).timestamp()


def load_start_epoch(events: Sequence[dict[str, Any]]) -> float:
    """The wall-clock instant of the harness's ``t_s = 0``."""
    offsets = [_epoch(e) - float(e["t_s"]) for e in events if e.get("t_s") is not None]
    if not offsets:
        raise ValueError("no event has both t_s and a wall-clock time")
    return statistics.median(offsets)


@dataclass(frozen=True)
class HarnessWindows:
    """A fault window of the harness, in wall-clock epoch seconds."""

    load_start: float
    injected: float
    removed: float | None
    rto_s: float | None
    recovered_at: float | None
    breaker_opened: float | None
    breaker_left_open: float | None  # stopped refusing: to half-open or closed
    breaker_closed: float | None


def harness_windows(
    run_dir: Path, *, fault: str | None = None, dependency: str | None = None
) -> HarnessWindows:
    """The fault named ``fault`` in events.jsonl (by default the run's only one: some
    names are made at run time, ``service-worker-<pid>-sigkill``) and, with
    ``dependency``, that breaker's transitions, from a finished run directory."""
    events = _events(run_dir)
    start = load_start_epoch(events)
    injected = [e for e in events if e["type"] == "fault_injected"]
    if fault is None:
        names = sorted({str(e.get("name")) for e in injected})
        if len(names) != 1:
            raise ValueError(f"name the fault: the run injected {names or 'none'}")
        fault = names[0]
    injected_s = next(e["t_s"] for e in injected if e.get("name") == fault)
    removed_s = next(
        (e["t_s"] for e in events if e["type"] == "fault_removed" and e.get("name") == fault),
        None,
    )
    summary = json.loads((run_dir / "summary.json").read_text())
    (experiment,) = [e for e in summary["experiments"] if e["name"] == fault]
    opened = left_open = closed = None
    if dependency is not None:
        moves = sorted(
            (e["t_s"], str(e.get("to_state", "")).lower())
            for e in events
            if e["type"] == "breaker_transition" and e.get("dependency") == dependency
        )
        opened = next((t for t, s in moves if s == "open" and t >= injected_s), None)
        if removed_s is not None:
            after = [(t, s) for t, s in moves if t >= removed_s]
            # a failed trial sends half-open back to open: the last time it left open
            reopened = max((i for i, (_, s) in enumerate(after) if s == "open"), default=-1)
            left_open = next((t for t, s in after[reopened + 1 :] if s != "open"), None)
            closed = next((t for t, s in after if s == "closed"), None)
    recovered_s = experiment.get("recovered_at_s")
    return HarnessWindows(
        load_start=start,
        injected=start + injected_s,
        removed=None if removed_s is None else start + removed_s,
        rto_s=experiment.get("rto_s"),
        recovered_at=None if recovered_s is None else start + recovered_s,
        breaker_opened=None if opened is None else start + opened,
        breaker_left_open=None if left_open is None else start + left_open,
        breaker_closed=None if closed is None else start + closed,
    )


# ---------------------------------------------------------------- the comparison


@dataclass(frozen=True)
class Row:
    what: str
    prober: float | None
    harness: float | None
    tolerance_s: float

    @property
    def agrees(self) -> bool:
        if self.prober is None or self.harness is None:
            return self.prober is None and self.harness is None
        return abs(self.prober - self.harness) <= self.tolerance_s


@dataclass(frozen=True)
class Comparison:
    rows: list[Row]
    outage: Outage | None
    origin: float  # the injection: times in the table are seconds after it
    notes: list[str] = field(default_factory=list)

    @property
    def agrees(self) -> bool:
        return all(r.agrees for r in self.rows)

    def __str__(self) -> str:
        def fmt(v: float | None) -> str:
            return "-" if v is None else f"{v:8.2f}"

        lines = ["seconds after the injection: prober / harness (tolerance)"]
        for r in self.rows:
            mark = "ok" if r.agrees else "DISAGREE"
            lines.append(
                f"  {r.what:<16} {fmt(r.prober)} / {fmt(r.harness)} (±{r.tolerance_s:g} s) {mark}"
            )
        lines += [f"  prober outage: {self.outage}", *self.notes]
        return "\n".join(lines)


def cross_check(
    windows: Windows,
    harness: HarnessWindows,
    *,
    tolerance_s: float = 3.0,
    breaker: bool = True,
) -> Comparison:
    """The prober's recovery (and breaker-open window) against the harness's, as times
    after the fault's injection; ``breaker=False`` compares the recovery only."""
    t0 = harness.injected
    outage = windows.outage_after(t0)

    def rel(t: float | None) -> float | None:
        return None if t is None else round(t - t0, 3)

    rows = [Row("RTO", windows.recovery_after(t0), harness.rto_s, tolerance_s)]
    if breaker:
        span = None if outage is None else outage.breaker_open
        first, last = (None, None) if span is None else (span.start, span.end)
        rows += [
            Row("breaker opened", rel(first), rel(harness.breaker_opened), tolerance_s),
            Row("breaker left open", rel(last), rel(harness.breaker_left_open), tolerance_s),
        ]
    notes = [f"  fault removed at {rel(harness.removed)} s"]
    return Comparison(rows=rows, outage=outage, origin=t0, notes=notes)
