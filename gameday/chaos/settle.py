"""Waiting for the steady state before the next experiment of a suite starts.

The previous experiment's after-effects (a breaker that stays open for its
30 s, a backlog draining) would otherwise break the next experiment's
steady-state check before its method, and the harness's own schedule would
leave that experiment "not judged". So experiment *i+1* starts once the SLO
window its own steady-state probe checks (`probes.slo_holds`: p95 and error
rate over the last `window_s` seconds of live.json) holds again, or once a
bounded wait gives up:

    steady = steady_state_of(experiment, variables)
    gate = SettleGate(experiment.name, steady, run_dir, timeout_s=60)
    gate.poll(elapsed_s)   # True once it held or the wait gave up

After the last experiment the load goes on the same way (`stage` after) until
the steady state holds again, bounded alike: the last experiment's recovery is
watched until its RTO can be measured, as the earlier ones' is (up to the next
one's start), instead of ending with its planned recovery.

Every wait is on the timeline as `steady_state_wait` events: `result` started,
then held (after `waited_s`) or gave_up (after `timeout_s`). An experiment
whose wait gave up starts anyway: its own steady-state check then finds the
steady state unmet and says so, which is the honest outcome.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gameday.chaos.experiment import Experiment
from gameday.chaos.probes import slo_window_holds
from gameday.rundir import RunDir, SteadyStateWaitEvent

DEFAULT_SETTLE_TIMEOUT_S = 60.0
_REFERENCE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
# slo_holds's own defaults, for arguments an experiment leaves out
_PROBE_DEFAULTS = {"window_s": 10.0, "p95_max_ms": 500.0, "error_rate_max": 0.001}


@dataclass(frozen=True)
class SteadyState:
    """The SLO window an experiment's steady-state hypothesis checks."""

    window_s: int
    p95_max_ms: float
    error_rate_max: float


def steady_state_of(experiment: Experiment, variables: dict[str, float]) -> SteadyState:
    """The arguments of the experiment's `slo_holds` probe, resolved as `chaos run`
    resolves them (`--var` over the experiment's configuration). An experiment
    without that probe is waited for on the SLO file's window (`variables`)."""
    configuration = {**experiment.configuration, **variables}
    hypothesis = experiment.data.get("steady-state-hypothesis") or {}
    probe = next(
        (
            p
            for p in hypothesis.get("probes", [])
            if (p.get("provider") or {}).get("module") == "gameday.chaos.probes"
            and (p.get("provider") or {}).get("func") == "slo_holds"
        ),
        None,
    )
    arguments: dict[str, Any] = (
        dict((probe.get("provider") or {}).get("arguments") or {})
        if probe is not None
        else {k: variables[k] for k in _PROBE_DEFAULTS if k in variables}
    )

    def value(key: str) -> float:
        raw = arguments.get(key, _PROBE_DEFAULTS[key])
        match = _REFERENCE.match(raw) if isinstance(raw, str) else None
        return float(configuration.get(match.group(1), _PROBE_DEFAULTS[key]) if match else raw)

    return SteadyState(
        window_s=int(value("window_s")),
        p95_max_ms=value("p95_max_ms"),
        error_rate_max=value("error_rate_max"),
    )


@dataclass
class SettleGate:
    """One bounded wait for the steady state, polled on the load's clock."""

    experiment: str
    steady: SteadyState
    run_dir: Path
    timeout_s: float = DEFAULT_SETTLE_TIMEOUT_S
    stage: str = "before"  # before the experiment starts; "after": the last, before the end
    every_s: float = 1.0
    started_s: float | None = None
    waited_s: float | None = None
    held: bool | None = None  # None: still waiting (or never asked)
    _last_check_s: float = -math.inf

    @property
    def settled(self) -> bool:
        return self.held is not None

    def poll(self, elapsed_s: float) -> bool:
        """True once the steady state held, or the wait gave up; records both ends."""
        if self.settled:
            return True
        if self.started_s is None:
            self.started_s = elapsed_s
            RunDir(self.run_dir).append_event(
                SteadyStateWaitEvent(
                    name=self.experiment,
                    stage=self.stage,
                    result="started",
                    timeout_s=self.timeout_s,
                    window_s=self.steady.window_s,
                    p95_max_ms=self.steady.p95_max_ms,
                    error_rate_max=self.steady.error_rate_max,
                )
            )
        if elapsed_s - self._last_check_s < self.every_s:
            return False
        self._last_check_s = elapsed_s
        ok, measured = self._check()
        waited = elapsed_s - self.started_s
        if not ok and waited < self.timeout_s:
            return False
        self.held = ok
        self.waited_s = round(waited, 1)
        RunDir(self.run_dir).append_event(
            SteadyStateWaitEvent(
                name=self.experiment,
                stage=self.stage,
                result="held" if ok else "gave_up",
                waited_s=self.waited_s,
                timeout_s=self.timeout_s,
                value=measured,
            )
        )
        return True

    def _check(self) -> tuple[bool, dict[str, Any]]:
        try:
            return slo_window_holds(
                self.steady.window_s,
                self.steady.p95_max_ms,
                self.steady.error_rate_max,
                directory=self.run_dir,
            )
        except (FileNotFoundError, ValueError, KeyError) as exc:  # no live.json yet
            return False, {"error": f"{type(exc).__name__}: {exc}"}

    def outcome(self) -> dict[str, Any]:
        """For experiment-NAME.json and suite.json."""
        return {
            "waited_s": self.waited_s,
            "held": self.held,
            "timeout_s": self.timeout_s,
            "started_s": None if self.started_s is None else round(self.started_s, 1),
        }
